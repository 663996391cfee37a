package main

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestResourceValue(t *testing.T) {
	ctr := corev1.Container{Name: "manager", Resources: corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi"), corev1.ResourceCPU: resource.MustParse("500m")},
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}}
	for _, tc := range []struct {
		ref     corev1.ResourceFieldSelector
		want    string
		wantErr bool
	}{
		{ref: corev1.ResourceFieldSelector{ContainerName: "manager", Resource: "limits.memory"}, want: "268435456"},
		{ref: corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, want: "256"},
		{ref: corev1.ResourceFieldSelector{Resource: "requests.memory"}, want: "67108864"},
		// CPU rounds up to whole cores, as the kubelet's does.
		{ref: corev1.ResourceFieldSelector{Resource: "limits.cpu"}, want: "1"},
		{ref: corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1m")}, want: "500"},
		{ref: corev1.ResourceFieldSelector{Resource: "requests.cpu"}, wantErr: true},
		{ref: corev1.ResourceFieldSelector{ContainerName: "sidecar", Resource: "limits.memory"}, wantErr: true},
		{ref: corev1.ResourceFieldSelector{Resource: "memory"}, wantErr: true},
	} {
		got, err := resourceValue("X", &tc.ref, ctr)
		switch {
		case tc.wantErr && err == nil:
			t.Errorf("%+v: got %q, want an error", tc.ref, got)
		case !tc.wantErr && (err != nil || got != tc.want):
			t.Errorf("%+v: got %q, %v; want %q", tc.ref, got, err, tc.want)
		}
	}
}

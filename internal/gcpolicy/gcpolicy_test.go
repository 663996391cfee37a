package gcpolicy

import (
	"testing"
)

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Settings
		wantErr bool
	}{
		{name: "nothing set", want: Settings{Percent: Percent}},
		{name: "a container limit", env: map[string]string{MemoryLimitEnv: "268435456"},
			want: Settings{Percent: Percent, Limit: 241591910}},
		{name: "GOGC set keeps it", env: map[string]string{"GOGC": "50", MemoryLimitEnv: "1000"},
			want: Settings{Limit: 900}},
		{name: "GOMEMLIMIT set keeps it", env: map[string]string{"GOMEMLIMIT": "100MiB", MemoryLimitEnv: "1000"},
			want: Settings{Percent: Percent}},
		{name: "a limit that is not a number", env: map[string]string{MemoryLimitEnv: "256Mi"},
			want: Settings{Percent: Percent}, wantErr: true},
		{name: "no limit (0)", env: map[string]string{MemoryLimitEnv: "0"},
			want: Settings{Percent: Percent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Plan(func(k string) string { return tc.env[k] })
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("Plan = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestApplyReportsALimitItCannotRead(t *testing.T) {
	env := map[string]string{"GOGC": "100", MemoryLimitEnv: "256Mi"}
	if _, err := Apply(func(k string) string { return env[k] }); err == nil {
		t.Error("Apply took 256Mi without a word: the Deployment passes bytes")
	}
}

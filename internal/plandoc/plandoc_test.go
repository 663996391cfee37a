package plandoc

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const hash = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func TestVerify(t *testing.T) {
	doc := Document{Hash: hash, Statements: []string{"CREATE TABLE a (id int)", "CREATE TABLE b (id int)"}, Rollback: []string{"DROP TABLE b", "DROP TABLE a"}}
	data, digest, err := Encode(doc)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())

	cm := func(mutate func(*corev1.ConfigMap)) *corev1.ConfigMap {
		c := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "m-plan"}, Data: map[string]string{}}
		for k, v := range data {
			c.Data[k] = v
		}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	forgedDoc := doc
	forgedDoc.Statements = []string{"DROP TABLE a"}
	forgedData, forgedDigest, err := Encode(forgedDoc)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())

	for name, tc := range map[string]struct {
		cm           *corev1.ConfigMap
		hash, digest string
		why          string
	}{
		"as written":                 {cm: cm(nil), hash: hash, digest: digest},
		"no digest in status":        {cm: cm(nil), hash: hash, why: "configMapDigest is empty"},
		"plan.json edited":           {cm: cm(func(c *corev1.ConfigMap) { c.Data[KeyJSON] = forgedData[KeyJSON] }), hash: hash, digest: digest, why: "changed after the operator wrote it"},
		"plan.json whitespace":       {cm: cm(func(c *corev1.ConfigMap) { c.Data[KeyJSON] += "\n" }), hash: hash, digest: digest, why: "the sha256 of its plan.json"},
		"plan.sql edited":            {cm: cm(func(c *corev1.ConfigMap) { c.Data[KeySQL] = forgedData[KeySQL] }), hash: hash, digest: digest, why: "its plan.sql is not the statements"},
		"plan.sql removed":           {cm: cm(func(c *corev1.ConfigMap) { delete(c.Data, KeySQL) }), hash: hash, digest: digest, why: "its plan.sql is not the statements"},
		"binary data added":          {cm: cm(func(c *corev1.ConfigMap) { c.BinaryData = map[string][]byte{"x": nil} }), hash: hash, digest: digest, why: "its plan.sql is not the statements"},
		"plan.json missing":          {cm: cm(func(c *corev1.ConfigMap) { delete(c.Data, KeyJSON) }), hash: hash, digest: digest, why: "it has no plan.json"},
		"another plan of the object": {cm: cm(nil), hash: "sha256:2222222222222222222222222222222222222222222222222222222222222222", digest: digest, why: "is of plan " + hash},
		// A forger who also knows the digest cannot write status.
		"forgery with its own digest": {cm: cm(func(c *corev1.ConfigMap) { c.Data = forgedData }), hash: hash, digest: digest, why: "the sha256 of its plan.json is " + forgedDigest},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := Verify(tc.cm, tc.hash, tc.digest)
			if tc.why == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(*got).To(Equal(doc))
				return
			}
			g.Expect(got).To(BeNil())
			g.Expect(errors.Is(err, ErrUntrusted)).To(BeTrue())
			g.Expect(err).To(MatchError(ContainSubstring("ConfigMap ns/m-plan does not hold the plan the operator wrote")))
			g.Expect(err).To(MatchError(ContainSubstring(tc.why)))
			g.Expect(err.Error()).NotTo(ContainSubstring("DROP TABLE a"), "an error never quotes the forged content")
		})
	}
}

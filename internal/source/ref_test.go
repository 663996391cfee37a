package source

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		uri     string
		want    Ref
		wantErr string
	}{
		{uri: "inline", want: Ref{Kind: KindInline}},
		{uri: "configmap://schema/001.sql", want: Ref{Kind: KindConfigMap, Name: "schema", Key: "001.sql"}},
		{uri: "secret://app-db.v2/up_1", want: Ref{Kind: KindSecret, Name: "app-db.v2", Key: "up_1"}},
		{uri: "configmap://a/B-key.SQL", want: Ref{Kind: KindConfigMap, Name: "a", Key: "B-key.SQL"}},

		{uri: "", wantErr: `invalid source "": want configmap://<name>/<key>, secret://<name>/<key> or inline`},
		{uri: "Inline", wantErr: "want configmap://"},
		{uri: " inline", wantErr: "want configmap://"},
		{uri: "file:///tmp/x.sql", wantErr: `unknown scheme "file"`},
		{uri: "configMap://a/b", wantErr: `unknown scheme "configMap"`},
		{uri: "configmap://", wantErr: "missing key: want configmap://<name>/<key>"},
		{uri: "configmap://schema", wantErr: "missing key"},
		{uri: "secret://schema/", wantErr: "missing key: want secret://<name>/<key>"},
		{uri: "configmap:///key", wantErr: `ConfigMap name ""`},
		{uri: "configmap://Schema/key", wantErr: `ConfigMap name "Schema"`},
		{uri: "secret://my_secret/key", wantErr: `Secret name "my_secret"`},
		{uri: "configmap://schema/a/b", wantErr: `key "a/b"`},
		{uri: "configmap://schema/..", wantErr: `key ".."`},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			g := NewWithT(t)
			got, err := ParseRef(tt.uri)
			if tt.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tt.wantErr)))
				g.Expect(errors.Is(err, ErrInvalidRef)).To(BeTrue())
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
			g.Expect(got.String()).To(Equal(tt.uri))
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, seed := range []string{
		"inline", "configmap://a/b", "secret://a.b-c/k_1.sql", "configmap://", "secret:///",
		"configmap://a/b/c", "x://y/z", "://", "configmap://a/\x00", "secret://ü/k",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		ref, err := ParseRef(uri)
		if err != nil {
			if !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("ParseRef(%q) error %v does not wrap ErrInvalidRef", uri, err)
			}
			return
		}
		// A parsed Ref writes back to the URI it came from.
		if ref.String() != uri {
			t.Fatalf("ParseRef(%q).String() = %q", uri, ref.String())
		}
		if ref.Kind != KindInline && (ref.Name == "" || ref.Key == "") {
			t.Fatalf("ParseRef(%q) = %#v: missing name or key", uri, ref)
		}
	})
}

func TestIsSecret(t *testing.T) {
	g := NewWithT(t)
	g.Expect(IsSecret("secret://seed/up.sql")).To(BeTrue())
	for _, uri := range []string{"configmap://seed/up.sql", "inline", "secret://", "secret://seed", "Secret://seed/up.sql"} {
		g.Expect(IsSecret(uri)).To(BeFalse(), uri)
	}
}

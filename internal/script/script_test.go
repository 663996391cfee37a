package script_test

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/script"
)

// The checksum is the form spec checksums and planned scripts take:
// changing it would make every pinned script a mismatch.
func TestChecksum(t *testing.T) {
	g := NewWithT(t)
	g.Expect(script.Checksum(nil)).To(Equal("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
	g.Expect(script.Checksum([]byte("SELECT 1;"))).To(HavePrefix("sha256:"))
	g.Expect(script.Checksum([]byte("SELECT 1;"))).NotTo(Equal(script.Checksum([]byte("SELECT 2;"))))
}

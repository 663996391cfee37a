package planner

import (
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// A cached plan holds its own strings: a statement Atlas's scanner split
// is a substring of its script, whose text (a megabyte of comment, say)
// the cache must not keep alive while counting only the statement.
func TestCacheKeepsNoScriptAlive(t *testing.T) {
	script := "SELECT 1;\n-- " + strings.Repeat("x", 1<<20)
	plan := &Plan{Hash: "sha256:x", Statements: []string{script[:9]}, Steps: []Step{{Script: script[:6]}}}
	c := NewPlanCache(1 << 20)
	var key [32]byte
	c.put(key, plan)
	got := c.order.Front().Value.(*cacheEntry).plan
	inScript := func(s string) bool {
		start := uintptr(unsafe.Pointer(unsafe.StringData(script)))
		at := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return at >= start && at < start+uintptr(len(script))
	}
	if inScript(got.Statements[0]) || inScript(got.Steps[0].Script) {
		t.Fatal("the cached plan's strings point into the script's text")
	}
	if got.Statements[0] != "SELECT 1;" {
		t.Fatalf("statement %q", got.Statements[0])
	}
	if size := planSize(plan); size >= 1<<20 {
		t.Fatalf("a one-statement plan weighs %d", size)
	}
	for i := range maxCached + 10 {
		key[0], key[1] = byte(i), byte(i>>8)
		c.put(key, plan)
	}
	if n := c.order.Len(); n > maxCached {
		t.Fatalf("%d plans cached, more than %d", n, maxCached)
	}
}

// What the fingerprint leaves out of the live database, the key has: the
// server's version and the schema's own attributes.
func TestCacheKeySeesTheServerAndTheSchemasAttributes(t *testing.T) {
	target, err := database.ParseURL("sqlite://" + filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	p := &Planner{}
	live := func(attrs ...schema.Attr) *liveState {
		return &liveState{schema: &schema.Schema{Name: "main", Attrs: attrs}, fingerprint: "CREATE TABLE t (id int);\n"}
	}
	base := p.cacheKey(target, live(&schema.Charset{V: "utf8mb4"}), "10.11.19", nil, Input{})
	for name, key := range map[string][32]byte{
		"another server":  p.cacheKey(target, live(&schema.Charset{V: "utf8mb4"}), "11.4.2", nil, Input{}),
		"another charset": p.cacheKey(target, live(&schema.Charset{V: "latin1"}), "10.11.19", nil, Input{}),
		"a collation":     p.cacheKey(target, live(&schema.Charset{V: "utf8mb4"}, &schema.Collation{V: "utf8mb4_bin"}), "10.11.19", nil, Input{}),
	} {
		if key == base {
			t.Errorf("%s: the same key", name)
		}
	}
	if again := p.cacheKey(target, live(&schema.Charset{V: "utf8mb4"}), "10.11.19", nil, Input{}); again != base {
		t.Error("the same inputs gave another key")
	}
}

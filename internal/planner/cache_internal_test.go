package planner

import (
	"strings"
	"testing"
	"unsafe"
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

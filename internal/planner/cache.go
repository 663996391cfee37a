package planner

import (
	"container/list"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
)

// An apply plans again under the migration lock and runs only a plan
// whose hash is the approved one. Planning a script again means the
// static gate, a scratch dev database, the replay and Atlas's analyzers:
// on a 10,000-statement script, about as long as running it. Yet a plan
// is a function of what it is computed from: the target, the live schema,
// the scripts the revision table says are pending, the input and the
// planner's own settings. A PlanCache keeps the plans a planner computed
// under a key over all of those, read again under the lock at apply time,
// so an apply whose inputs are the planned ones takes the plan it would
// compute instead of computing it.
//
// What a hit may skip is only what the key vouches for. The live schema
// is inspected, and the pending scripts read, under the lock as on a miss;
// the sources are the ones the apply loaded, not the planned ones. A
// changed byte anywhere (a script swapped after approval, a column added
// by hand, a setting edited) makes another key: the apply plans from
// scratch and its hash decides, as without a cache. The plan's hash is
// computed again on a hit, over the inputs at hand. The cache lives in the
// planner's process only, holds nothing a reviewer has not been shown
// (plans computed here, errors never), and hands out copies, so no caller
// can change what a later apply reads.

// cacheVersion changes when what the key covers changes.
const cacheVersion = "kube-shift plan cache v1"

// PlanCache keeps recent plans in memory, the least recently used dropped
// first once it holds more than its budget or maxCached plans. A nil cache keeps nothing. It
// is safe for concurrent use.
type PlanCache struct {
	mu sync.Mutex
	// budget is the statement bytes the cache may hold; size what it
	// holds.
	budget, size int
	entries      map[[sha256.Size]byte]*list.Element
	// order has the most recently used entry at the front.
	order        *list.List
	hits, misses int
	// Observe, when set, is told of each lookup (for metrics).
	Observe func(hit bool)
}

type cacheEntry struct {
	key  [sha256.Size]byte
	plan *Plan
	size int
}

// NewPlanCache returns a cache holding plans of at most budget bytes of
// statements (forward and rollback) in all.
func NewPlanCache(budget int) *PlanCache {
	return &PlanCache{budget: budget, entries: map[[sha256.Size]byte]*list.Element{}, order: list.New()}
}

// Stats are how many lookups found a plan and how many did not.
func (c *PlanCache) Stats() (hits, misses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

func (c *PlanCache) get(key [sha256.Size]byte) *Plan {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if c.Observe != nil {
		c.Observe(ok)
	}
	if !ok {
		c.misses++
		return nil
	}
	c.hits++
	c.order.MoveToFront(e)
	return clonePlan(e.Value.(*cacheEntry).plan)
}

func (c *PlanCache) put(key [sha256.Size]byte, plan *Plan) {
	if c == nil {
		return
	}
	size := planSize(plan)
	if size > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		c.order.MoveToFront(e)
		return
	}
	own := clonePlan(plan)
	ownStrings(own)
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, plan: own, size: size})
	c.size += size
	for c.size > c.budget || c.order.Len() > maxCached {
		oldest := c.order.Back()
		entry := oldest.Value.(*cacheEntry)
		c.order.Remove(oldest)
		delete(c.entries, entry.key)
		c.size -= entry.size
	}
}

// maxCached bounds the plans a cache holds, whatever they weigh.
const maxCached = 256

// planSize is what a plan weighs in the cache: the bytes of its strings,
// and a little for each.
func planSize(plan *Plan) int {
	n := 1024 + len(plan.Hash)
	for _, s := range plan.Statements {
		n += len(s) + 64
	}
	for _, s := range plan.Rollback {
		n += len(s) + 64
	}
	for _, s := range plan.Changes {
		n += len(s) + 64
	}
	for _, s := range plan.Steps {
		n += len(s.Script) + 64
	}
	for _, d := range plan.Diagnostics {
		n += len(d.Code) + len(d.Text) + 64
	}
	for _, s := range plan.Scripts {
		n += len(s.Name) + len(s.Checksum) + 64
	}
	for _, v := range plan.Validations {
		n += len(v.Name) + len(v.SQL) + 64
	}
	for _, r := range plan.renames {
		n += len(r.table) + len(r.from) + len(r.to) + 64
	}
	return n
}

// clonePlan copies plan deep enough that changing the copy's slices, or
// what they hold, leaves plan as it was.
func clonePlan(plan *Plan) *Plan {
	c := *plan
	c.Statements = slices.Clone(plan.Statements)
	c.Steps = slices.Clone(plan.Steps)
	c.Changes = slices.Clone(plan.Changes)
	c.Rollback = slices.Clone(plan.Rollback)
	c.Scripts = slices.Clone(plan.Scripts)
	c.Validations = slices.Clone(plan.Validations)
	c.renames = slices.Clone(plan.renames)
	c.Diagnostics = make([]Diagnostic, len(plan.Diagnostics))
	for i, d := range plan.Diagnostics {
		if d.Statement != nil {
			at := *d.Statement
			d.Statement = &at
		}
		c.Diagnostics[i] = d
	}
	if plan.Diagnostics == nil {
		c.Diagnostics = nil
	}
	return &c
}

// ownStrings makes plan's strings its own: a statement Atlas's scanner
// split is a substring of its script, which the cache would otherwise keep
// whole (comments and all) while counting only the statement.
func ownStrings(plan *Plan) {
	for i := range plan.Statements {
		plan.Statements[i] = strings.Clone(plan.Statements[i])
	}
	for i := range plan.Rollback {
		plan.Rollback[i] = strings.Clone(plan.Rollback[i])
	}
	for i := range plan.Changes {
		plan.Changes[i] = strings.Clone(plan.Changes[i])
	}
	for i := range plan.Steps {
		plan.Steps[i].Script = strings.Clone(plan.Steps[i].Script)
	}
	for i := range plan.Diagnostics {
		plan.Diagnostics[i].Text = strings.Clone(plan.Diagnostics[i].Text)
	}
}

// cacheKey is sha256 over everything a plan of in against live is
// computed from: the planner's settings (its dev databases and what its
// gate allows), the target's identity, its server's version, the live
// schema's fingerprint and attributes, the scripts left pending by the
// revision table, and the whole input.
func (p *Planner) cacheKey(target *database.Target, live *liveState, server string, pending []script.Script, in Input) [sha256.Size]byte {
	h := sha256.New()
	field := func(s string) {
		// Length-prefixed, so no two sequences of fields collide.
		_, _ = io.WriteString(h, strconv.Itoa(len(s)))
		_, _ = io.WriteString(h, ":")
		_, _ = io.WriteString(h, s)
	}
	field(cacheVersion)
	field(hashVersion)
	field(p.DevURL)
	for _, engine := range slices.Sorted(maps.Keys(p.DevServers)) {
		field(engine)
		field(p.DevServers[engine])
	}
	field("allow")
	for _, reach := range slices.Sorted(maps.Keys(p.AllowSQL)) {
		if p.AllowSQL[reach] {
			field(string(reach))
		}
	}
	field(target.Identity())
	field(server)
	field(live.fingerprint)
	// The schema's own attributes are not in the fingerprint; a
	// declarative plan copies them into the desired schema.
	for _, a := range live.schema.Attrs {
		switch a := a.(type) {
		case *schema.Charset:
			field("charset " + a.V)
		case *schema.Collation:
			field("collation " + a.V)
		case *schema.Comment:
			field("comment " + a.Text)
		default:
			field(fmt.Sprintf("%T", a))
		}
	}
	field("pending")
	for _, s := range pending {
		field(s.Name)
	}
	scripts := func(label string, all []script.Script) {
		field(label)
		field(strconv.Itoa(len(all)))
		for _, s := range all {
			field(s.Name)
			field(string(s.Type))
			field(s.SQL)
			field(s.Checksum)
			field(strconv.FormatBool(s.Sensitive))
			field(s.Timeout.String())
			field(strconv.Itoa(len(s.DependsOn)))
			for _, d := range s.DependsOn {
				field(d)
			}
		}
	}
	scripts("scripts", in.Scripts)
	scripts("validations", in.Validations)
	if d := in.Desired; d != nil {
		field("desired")
		field(string(d.Format))
		field(d.Text)
		field(strconv.Itoa(len(d.Exclude)))
		for _, x := range d.Exclude {
			field(x)
		}
	}
	field("settings")
	field(in.Settings)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

package plugin

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

func TestEscapeControls(t *testing.T) {
	for in, want := range map[string]string{
		"ALTER TABLE t ADD c int;\n\tDROP x": "ALTER TABLE t ADD c int;\n\tDROP x",
		"a\x1b[2Kb":                          `a\x1b[2Kb`,
		"a\rb\bc\x7fd":                       `a\x0db\x08c\x7fd`,
		"a\u009b2Kb":                         `a\x9b2Kb`,
		"a\u202eevil\u202cb\u2066c\u2069":    `a\u202eevil\u202cb\u2066c\u2069`,
		"a\xffb":                             `a\xffb`,
		"naïve ünïcode ✓":                    "naïve ünïcode ✓",
	} {
		if got := escapeControls(in); got != want {
			t.Errorf("escapeControls(%q) = %q, want %q", in, got, want)
		}
	}
}

// The author writes the SQL `kubectl shift approve` shows. A comment in a
// statement is free text the planner keeps, and status holds it as
// written: every verb reads objects through printableClient, so control
// characters in them (ESC, CR) reach the reviewer's terminal as text,
// unable to erase the UPDATE line and print the plan the author wants
// read. A Get, a List and a watch's events are each made printable.
func TestPlanShownCannotDriveTheReviewersTerminal(t *testing.T) {
	const up = "\x1b[1A\x1b[2K"
	hide := "\r\x1b[2K" + strings.Repeat(up, 5) + "\rChanges:\n\r  add column users.nickname\n\rStatements:\n\r    1  ALTER TABLE users ADD COLUMN nickname text; /* SHOP-123 "
	update := "UPDATE users SET role = 'admin' WHERE name = 'mallory' /*" + hide + "*/;"
	dbm := &dbv1.DatabaseMigration{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "add-nickname"},
		Status: dbv1.DatabaseMigrationStatus{Plan: &dbv1.PlanStatus{
			Hash:       "sha256:" + strings.Repeat("ab", 32),
			Statements: []string{"ALTER TABLE users ADD COLUMN nickname text;", update},
			Changes:    []string{"add column users.nickname", "data: writes rows of users\x1b[8m"},
		}},
	}
	scheme := runtime.NewScheme()
	if err := dbv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	raw := fake.NewClientBuilder().WithScheme(scheme).WithObjects(dbm).Build()
	c := printableClient{raw}
	ctx := context.Background()

	shown := func(t *testing.T, how string, got *dbv1.DatabaseMigration) {
		t.Helper()
		var out bytes.Buffer
		writePlan(&out, palette{}, shownPlan{status: got.Status.Plan})
		text := out.String()
		if strings.ContainsAny(text, "\x1b\r") {
			t.Errorf("%s: the plan shown carries the author's control characters: %q", how, text)
		}
		if !strings.Contains(text, `UPDATE users SET role = 'admin'`) || !strings.Contains(text, `\x1b[2K`) {
			t.Errorf("%s: the UPDATE and its escaped controls are not shown as text: %q", how, text)
		}
	}

	got := &dbv1.DatabaseMigration{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(dbm), got); err != nil {
		t.Fatal(err)
	}
	shown(t, "get", got)

	list := &dbv1.DatabaseMigrationList{}
	if err := c.List(ctx, list, client.InNamespace("shop")); err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v, %d items", err, len(list.Items))
	}
	shown(t, "list", &list.Items[0])

	w, err := c.Watch(ctx, &dbv1.DatabaseMigrationList{}, client.InNamespace("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	changed := dbm.DeepCopy()
	if err := raw.Get(ctx, client.ObjectKeyFromObject(dbm), changed); err != nil {
		t.Fatal(err)
	}
	changed.Labels = map[string]string{"touched": "yes"}
	if err := raw.Update(ctx, changed); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-w.ResultChan():
		got, ok := e.Object.(*dbv1.DatabaseMigration)
		if !ok {
			t.Fatalf("a watch event of %T", e.Object)
		}
		shown(t, "watch", got)
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}

	// What the verbs read is made printable; what is stored is not changed.
	stored := &dbv1.DatabaseMigration{}
	if err := raw.Get(ctx, client.ObjectKeyFromObject(dbm), stored); err != nil {
		t.Fatal(err)
	}
	if stored.Status.Plan.Statements[1] != update {
		t.Errorf("the stored statement changed: %q", stored.Status.Plan.Statements[1])
	}
}

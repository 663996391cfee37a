package source

import (
	"slices"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// References lists every ConfigMap and Secret dbm reads, in spec order and
// without duplicates: script and desired-schema sources, the dev-database
// Secret, the connection Secret and notification Secrets. A Ref with no Key
// stands for a whole Secret. Sources that do not parse are left out;
// admission reports them.
func References(dbm *dbv1.DatabaseMigration) []Ref {
	var refs []Ref
	seen := map[Ref]bool{}
	add := func(r Ref) {
		if r.Name == "" || seen[r] {
			return
		}
		seen[r] = true
		refs = append(refs, r)
	}
	for _, r := range SQLReferences(dbm) {
		add(r)
	}
	spec := &dbm.Spec
	if p := spec.Planning; p != nil && p.DevDatabase != nil {
		key := p.DevDatabase.Key
		if key == "" {
			key = "url" // the API's default, for objects not yet defaulted
		}
		add(Ref{Kind: KindSecret, Name: p.DevDatabase.Name, Key: key})
	}
	if spec.Database != nil {
		add(Ref{Kind: KindSecret, Name: spec.Database.ConnectionSecret})
	}
	if n := spec.Notifications; n != nil {
		if n.Slack != nil {
			add(Ref{Kind: KindSecret, Name: n.Slack.Webhook, Key: "url"})
		}
		if n.Email != nil {
			add(Ref{Kind: KindSecret, Name: n.Email.SMTPSecret})
		}
	}
	return refs
}

// SQLReferences lists the ConfigMaps and Secrets dbm's SQL comes from (its
// scripts' and desired schema's sources), in spec order and without
// duplicates. Sources that do not parse are left out.
func SQLReferences(dbm *dbv1.DatabaseMigration) []Ref {
	var refs []Ref
	addURI := func(uri string) {
		if r, err := ParseRef(uri); err == nil && r.Kind != KindInline && !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	for _, s := range dbm.Spec.Migration.Scripts {
		addURI(s.Source)
	}
	if d := dbm.Spec.Migration.DesiredSchema; d != nil {
		addURI(d.Source)
	}
	return refs
}

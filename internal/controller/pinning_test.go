package controller

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// A DatabaseTarget's spec, the platform team's, says where its
// migrations run; its connection Secret (in the target's namespace,
// which the namespace's authors may write) gives only the credentials,
// even when it holds a whole url. A driver parameter in that url must
// not move the connection to another database on the same server.
func TestTargetSecretCannotMoveTheConnectionToAnotherDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ours, _ := url.Parse(dbtest.NewPostgresDatabase(t))   // the target's database
	theirs, _ := url.Parse(dbtest.NewPostgresDatabase(t)) // another team's, same server
	ourDB, theirDB := strings.TrimPrefix(ours.Path, "/"), strings.TrimPrefix(theirs.Path, "/")
	port, _ := strconv.Atoi(ours.Port())

	// The url the author writes: the target's own host, port and
	// database, as pinning checks, and dbname in the query.
	forged := *ours
	q := forged.Query()
	q.Set("dbname", theirDB)
	forged.RawQuery = q.Encode()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop-db"},
		Data:       map[string][]byte{"url": []byte(forged.String())},
	}
	reader := fake.NewClientBuilder().WithObjects(secret).Build()
	id := dbv1.TargetID{Kind: dbv1.KindDatabaseTarget, Namespace: "shop", Name: "shop"}
	b := &binding{
		target: &id, secretNamespace: "shop",
		config: dbv1.DatabaseConfig{Type: dbv1.DatabaseTypePostgreSQL, Host: ours.Hostname(), Port: int32(port),
			Database: ourDB, ConnectionSecret: "shop-db", SSLMode: dbv1.SSLMode("disable")},
	}
	_, err := resolveTarget(ctx, reader, b, "")
	g.Expect(err).To(MatchError(ContainSubstring("parameter dbname is refused")), "the target %s names database %s", id, ourDB)
	var permanent *PermanentError
	g.Expect(errors.As(err, &permanent)).To(BeTrue(), "a Secret to fix, not an outage to retry")
	g.Expect(permanent.Reason).To(Equal(dbv1.ReasonSecretInvalid))
	_ = theirDB
}

// An inline spec.database is what status.plan.database and
// `kubectl shift status/approve` show a reviewer ("Database: ..."). A url
// in its connection Secret, which the same author writes, must not send
// the approved statements to another database than the one shown.
func TestInlineSecretCannotRunThePlanElsewhereThanTheSpecShows(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	shown, _ := url.Parse(dbtest.NewPostgresDatabase(t)) // "staging", what the spec says
	real, _ := url.Parse(dbtest.NewPostgresDatabase(t))  // "production", what the Secret says
	shownDB := strings.TrimPrefix(shown.Path, "/")
	port, _ := strconv.Atoi(shown.Port())
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop-db"},
		Data:       map[string][]byte{"url": []byte(real.String())},
	}
	reader := fake.NewClientBuilder().WithObjects(secret).Build()
	b := &binding{secretNamespace: "shop", config: dbv1.DatabaseConfig{Type: dbv1.DatabaseTypePostgreSQL,
		Host: shown.Hostname(), Port: int32(port), Database: shownDB, ConnectionSecret: "shop-db", SSLMode: dbv1.SSLMode("disable")}}
	_, err := resolveTarget(ctx, reader, b, "")
	g.Expect(err).To(MatchError(ContainSubstring("names database")), "status and the plugin show database %s; the url names %s", shownDB, real.Path)
}

// The same rule for a SQLite target: its file is the platform's choice,
// and a url in its connection Secret must not name another file under
// the SQLite root (another namespace's database, say).
func TestSQLiteTargetSecretCannotNameAnotherFile(t *testing.T) {
	g := NewWithT(t)
	root := t.TempDir()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop-db"},
		Data:       map[string][]byte{"url": []byte("sqlite://billing/billing.db")},
	}
	reader := fake.NewClientBuilder().WithObjects(secret).Build()
	id := dbv1.TargetID{Kind: dbv1.KindDatabaseTarget, Namespace: "shop", Name: "shop"}
	b := &binding{target: &id, secretNamespace: "shop",
		config: dbv1.DatabaseConfig{Type: dbv1.DatabaseTypeSQLite, Database: "shop/shop.db", ConnectionSecret: "shop-db"}}
	_, err := resolveTarget(context.Background(), reader, b, root)
	g.Expect(err).To(MatchError(ContainSubstring("is not the database's")), "the target names shop/shop.db, its Secret billing/billing.db")
}

package e2e

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The suite hands the operator real secrets (database passwords, a Slack
// webhook's token) and, at its end, looks for every one of them in what
// the operator shows: its logs, every event, every status. A secret found
// fails the suite, named by where it was, never printed.

var secrets struct {
	sync.Mutex
	known []string
}

// rememberSecret adds a secret the operator is given to those looked for.
func rememberSecret(s string) {
	secrets.Lock()
	defer secrets.Unlock()
	secrets.known = append(secrets.known, s)
}

// suiteSecrets are the remembered secrets and the passwords of the test
// servers' URLs (every database the specs create is on them).
func suiteSecrets() []string {
	secrets.Lock()
	out := append([]string(nil), secrets.known...)
	secrets.Unlock()
	for _, name := range []string{"KUBE_SHIFT_TEST_POSTGRES_URL", "KUBE_SHIFT_TEST_MYSQL_URL", "KUBE_SHIFT_DEV_DATABASE_POSTGRES", "KUBE_SHIFT_DEV_DATABASE_MYSQL"} {
		if u, err := url.Parse(os.Getenv(name)); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// secretsIn says where in text a suite secret shows, by its length and
// the source's name only.
func secretsIn(where, text string) []string {
	var found []string
	for _, s := range suiteSecrets() {
		// Shorter strings are words, not secrets: a match says nothing.
		if len(s) >= 8 && strings.Contains(text, s) {
			found = append(found, fmt.Sprintf("%s shows a secret of %d characters", where, len(s)))
		}
	}
	return found
}

// expectNoSecretsInFile fails when a suite secret shows in the file.
func expectNoSecretsInFile(path string) {
	GinkgoHelper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return
	}
	Expect(err).NotTo(HaveOccurred())
	Expect(secretsIn(filepath.Base(path), string(b))).To(BeEmpty())
}

// scanForSecrets looks through the local control plane's manager logs and
// everything the operator wrote to the API: events, and the objects it
// keeps status on.
func scanForSecrets() {
	GinkgoHelper()
	Expect(suiteSecrets()).NotTo(BeEmpty(), "the scan knows the secrets it looks for")
	var found []string
	logs, _ := filepath.Glob(localState("*.log"))
	for _, path := range logs {
		if b, err := os.ReadFile(path); err == nil {
			found = append(found, secretsIn(filepath.Base(path), string(b))...)
		}
	}
	for _, what := range []string{"events", "databasemigrations", "databasetargets", "clusterdatabasetargets", "databasemigrationsets", "configmaps"} {
		out, err := kubectl("get", what, "-A", "-o", "json")
		Expect(err).NotTo(HaveOccurred(), "kubectl get %s", what)
		found = append(found, secretsIn(what, out)...)
	}
	GinkgoWriter.Printf("secret scan: %d secrets looked for in %d logs, events and every kube-shift object: %d found\n", len(suiteSecrets()), len(logs), len(found))
	Expect(found).To(BeEmpty())
}

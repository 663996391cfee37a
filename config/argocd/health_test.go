// Package argocd_test runs health.lua, the Argo CD health check for
// DatabaseMigration, under gopher-lua, the Lua engine Argo CD embeds.
package argocd_test

import (
	"os"
	"testing"

	. "github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// health runs the script on obj as Argo CD does: obj a global table, the
// script's returned table read for status and message.
func health(t *testing.T, script string, obj map[string]any) (status, message string) {
	t.Helper()
	state := lua.NewState()
	defer state.Close()
	state.SetGlobal("obj", toLua(state, obj))
	if err := state.DoString(script); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	ret, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %s, not a table", state.Get(-1).Type())
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
}

// toLua converts decoded JSON into Lua values the way Argo CD hands an
// object to a health script: maps and lists become tables, numbers numbers.
func toLua(state *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case map[string]any:
		t := state.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(state, e))
		}
		return t
	case []any:
		t := state.NewTable()
		for _, e := range v {
			t.Append(toLua(state, e))
		}
		return t
	}
	panic("unexpected JSON value")
}

func object(t *testing.T, generation, observed int64, phase dbv1.MigrationPhase, message string) map[string]any {
	dbm := &dbv1.DatabaseMigration{
		TypeMeta:   metav1.TypeMeta{APIVersion: dbv1.GroupVersion.String(), Kind: "DatabaseMigration"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "demo", Generation: generation},
		Status:     dbv1.DatabaseMigrationStatus{Phase: phase, Message: message, ObservedGeneration: observed},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dbm)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return u
}

func readScript(t *testing.T) string {
	data, err := os.ReadFile("health.lua")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return string(data)
}

func TestHealthOfEveryPhase(t *testing.T) {
	script := readScript(t)
	want := map[dbv1.MigrationPhase]string{
		dbv1.PhaseSucceeded:        "Healthy",
		dbv1.PhasePending:          "Progressing",
		dbv1.PhasePlanning:         "Progressing",
		dbv1.PhaseRunning:          "Progressing",
		dbv1.PhaseRollingBack:      "Progressing",
		dbv1.PhaseAwaitingApproval: "Suspended",
		dbv1.PhaseAwaitingSwitch:   "Suspended",
		dbv1.PhaseFailed:           "Degraded",
		dbv1.PhaseBlocked:          "Degraded",
	}
	for phase, expected := range want {
		t.Run(string(phase), func(t *testing.T) {
			g := NewWithT(t)
			status, message := health(t, script, object(t, 2, 2, phase, "plan sha256:abc waits"))
			g.Expect(status).To(Equal(expected))
			g.Expect(message).To(Equal(string(phase) + ": plan sha256:abc waits"))
		})
	}
}

func TestHealthBeforeTheControllerSeesTheSpec(t *testing.T) {
	g := NewWithT(t)
	script := readScript(t)
	noStatus := object(t, 1, 0, "", "")
	delete(noStatus, "status")
	status, message := health(t, script, noStatus)
	g.Expect(status).To(Equal("Progressing"))
	g.Expect(message).To(ContainSubstring("Waiting for the controller"))

	// A spec edited after success is not Healthy until it is applied too.
	status, _ = health(t, script, object(t, 3, 2, dbv1.PhaseSucceeded, "applied"))
	g.Expect(status).To(Equal("Progressing"))

	status, message = health(t, script, object(t, 1, 1, dbv1.PhaseRunning, ""))
	g.Expect(status).To(Equal("Progressing"))
	g.Expect(message).To(Equal("Running"))
}

// The argocd-cm snippet carries health.lua word for word.
func TestConfigMapCarriesTheScript(t *testing.T) {
	g := NewWithT(t)
	data, err := os.ReadFile("argocd-cm.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	var cm corev1.ConfigMap
	g.Expect(yaml.Unmarshal(data, &cm)).To(Succeed())
	g.Expect(cm.Data).To(HaveKeyWithValue("resource.customizations.health.database.mohitnagaraj.in_DatabaseMigration", readScript(t)))
}

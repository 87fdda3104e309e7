package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuthQuickstart runs the README's "Put it in front of users" steps
// with the real binary: a secret, a policy, serve, tokens from `ankurah
// token`, an admin who creates, a user who reads only her rows and whose
// refused write reaches nothing; and the client tools without a token are
// refused with the fix.
func TestAuthQuickstart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	policy := filepath.Join(dir, "policy.json")
	os.WriteFile(secret, []byte("a-secret-of-at-least-thirty-two-bytes-for-tests\n"), 0o600)
	os.WriteFile(policy, []byte(`{"default_role": "user", "roles": {
  "user":  {"collections": {"todo": {"read": "owner = $jwt.sub", "write": "owner = $jwt.sub"}}},
  "admin": {"schema": true, "collections": {"*": {"read": "true", "write": "true"}}}}}`), 0o600)
	_, url, lines := startServeLog(t, "--data-dir", filepath.Join(dir, "data"), "--jwt-secret-file", secret, "--policy", policy)
	for _, l := range lines {
		if strings.Contains(l, "no policy") {
			t.Fatalf("serve with a policy warned: %s", l)
		}
	}
	tok := func(args ...string) string {
		t.Helper()
		status, out, errout := invoke(append([]string{"token", "--jwt-secret-file", secret}, args...)...)
		if status != exitOK {
			t.Fatalf("token %v: %d %s", args, status, errout)
		}
		return strings.TrimSpace(out)
	}
	as := func(token string, args ...string) (int, string, string) {
		var out, errout bytes.Buffer
		env := map[string]string{"ANKURAH_URL": url, "ANKURAH_TOKEN": token}
		status := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errout)
		return status, out.String(), errout.String()
	}
	admin, alice, bob := tok("--sub", "root", "--role", "admin"), tok("--sub", "alice"), tok("--sub", "bob")
	for _, owner := range []string{"alice", "bob"} {
		if status, _, errout := as(admin, "put", "todo", `{"title":"buy milk","owner":"`+owner+`"}`); status != exitOK {
			t.Fatalf("admin put: %d %s", status, errout)
		}
	}
	if status, out, errout := as(alice, "query", "todo", "ORDER BY title"); status != exitOK || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"owner":"alice"`) {
		t.Fatalf("alice's query: %d\n%s%s", status, out, errout)
	}
	// A write the rule refuses: one line, in the user's terms; nothing written.
	status, _, errout := as(alice, "put", "todo", `{"title":"x","owner":"bob"}`)
	if status != exitFailure || !strings.Contains(errout, "write rule") {
		t.Fatalf("alice writes for bob: %d %s", status, errout)
	}
	checkMessage(t, "a refused write", errout)
	if _, out, _ := as(bob, "query", "todo", ""); strings.Count(out, "\n") != 1 {
		t.Fatalf("bob sees %s", out)
	}
	// No schema privilege for users.
	if status, _, errout := as(alice, "put", "note", `{"text":"x"}`); status != exitFailure || !strings.Contains(errout, "schema privilege") {
		t.Fatalf("a user creating a collection: %d %s", status, errout)
	}
	// No token: refused, with the fix.
	status, _, errout = as("", "query", "todo", "")
	if status != exitFailure || !strings.Contains(errout, "fix: set ANKURAH_TOKEN") {
		t.Fatalf("no token: %d %s", status, errout)
	}
	checkMessage(t, "no token", errout)
	// token's own errors.
	if status, _, errout := invoke("token", "--sub", "x"); status != exitUsage || !strings.Contains(errout, "no secret") {
		t.Fatalf("token without a secret: %d %s", status, errout)
	}
}

package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

const todoPolicy = `{
  "default_role": "user",
  "anonymous_role": "guest",
  "roles": {
    "guest": {"collections": {"album": {"read": "public = true"}}},
    "user": {
      "collections": {
        "todo":  {"read": "owner = $jwt.sub", "write": "owner = $jwt.sub", "hidden": ["secret"]},
        "doc":   {"read": "team IN $jwt.teams OR $jwt.role = 'admin'", "write": "team IN $jwt.teams AND NOT (locked = true)"},
        "album": {"read": "true", "write": "$jwt.email_verified = true"},
        "*":     {"read": "public = true"}
      }
    },
    "admin": {"schema": true, "collections": {"*": {"read": "true", "write": "true"}}}
  }
}`

func mustPolicy(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rec is an entity for evaluating rules.
func rec(fields map[string]any) *entity.State {
	st := entity.New("todo", event.MustParseID("01JD8X5Z8K3T7Q2W9E4R6Y1M0N"))
	for k, v := range fields {
		var val value.Value
		switch x := v.(type) {
		case string:
			val = value.TextOf(x)
		case int:
			val = value.IntOf(int64(x))
		case bool:
			val = value.BoolOf(x)
		}
		st.Values[k] = val
	}
	return st
}

func principal(sub string, roles []string, extra map[string]any) *Principal {
	c := map[string]any{"sub": sub}
	for k, v := range extra {
		c[k] = v
	}
	if len(roles) == 1 {
		c["role"] = roles[0]
	}
	return &Principal{Subject: sub, Roles: roles, Claims: c}
}

func TestGrantRules(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, todoPolicy)
	alice := principal("alice", nil, map[string]any{"teams": []any{"red", "blue"}, "email_verified": true})
	admin := principal("root", []string{"admin"}, nil)
	guest := &Principal{}
	stranger := principal("eve", []string{"nobody"}, nil) // a role the policy does not define
	cases := []struct {
		name      string
		who       *Principal
		coll      string
		row       map[string]any
		read      bool
		canRead   bool
		write     bool // on this row, before and after
		canWrite  bool
		schema    bool
		hiddenSee string
	}{
		{"owner reads own todo", alice, "todo", map[string]any{"owner": "alice"}, true, true, true, true, false, "secret"},
		{"owner does not read another's todo", alice, "todo", map[string]any{"owner": "bob"}, false, true, false, true, false, ""},
		{"team member reads team doc", alice, "doc", map[string]any{"team": "blue", "locked": false}, true, true, true, true, false, ""},
		{"not a team member", alice, "doc", map[string]any{"team": "green"}, false, true, false, true, false, ""},
		{"locked doc: NOT stays two-valued on a present field", alice, "doc", map[string]any{"team": "red", "locked": true}, true, true, false, true, false, ""},
		{"doc without locked: NOT of unknown denies", alice, "doc", map[string]any{"team": "red"}, true, true, false, true, false, ""},
		{"verified email writes albums", alice, "album", map[string]any{}, true, true, true, true, false, ""},
		{"wildcard collection", alice, "other", map[string]any{"public": true}, true, true, false, false, false, ""},
		{"wildcard, not public", alice, "other", map[string]any{"public": false}, false, true, false, false, false, ""},
		{"admin reads all", admin, "todo", map[string]any{"owner": "bob"}, true, true, true, true, true, ""},
		{"guest reads public albums", guest, "album", map[string]any{"public": true}, true, true, false, false, false, ""},
		{"guest reads no todos", guest, "todo", map[string]any{"owner": ""}, false, false, false, false, false, ""},
		{"unknown role is denied everything", stranger, "album", map[string]any{"public": true}, false, false, false, false, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := p.Grant(tc.who, tc.coll)
			if err != nil {
				t.Fatal(err)
			}
			if g.CanRead() != tc.canRead || g.CanWrite() != tc.canWrite || g.CanChangeSchema() != tc.schema {
				t.Fatalf("can read %v write %v schema %v", g.CanRead(), g.CanWrite(), g.CanChangeSchema())
			}
			st := rec(tc.row)
			if tc.canRead {
				q, err := g.Narrow(query.MustParse(""))
				if err != nil {
					t.Fatal(err)
				}
				m, err := q.Compile()
				if err != nil {
					t.Fatal(err)
				}
				if m.Match(st) != tc.read {
					t.Fatalf("read %v, want %v (rule %s)", m.Match(st), tc.read, q.String())
				}
			} else if _, err := g.Narrow(query.MustParse("")); code(err) != protocol.CodePermissionDenied {
				t.Fatalf("narrow without read: %v", err)
			}
			err = g.CheckWrite(st, st, nil)
			if (err == nil) != tc.write {
				t.Fatalf("write: %v, want allowed=%v", err, tc.write)
			}
			if err != nil && code(err) != protocol.CodePermissionDenied {
				t.Fatalf("write refused with %v", err)
			}
			if tc.hiddenSee != "" && !g.Hidden(tc.hiddenSee) {
				t.Fatalf("%s is not hidden", tc.hiddenSee)
			}
		})
	}
}

func TestWriteChecksBeforeAndAfter(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, todoPolicy)
	g, err := p.Grant(principal("alice", nil, nil), "todo")
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := rec(map[string]any{"owner": "alice"}), rec(map[string]any{"owner": "bob"})
	for _, tc := range []struct {
		name          string
		before, after query.Record
		fields        []string
		ok            bool
	}{
		{"create mine", nil, mine, []string{"owner"}, true},
		{"create theirs", nil, theirs, []string{"owner"}, false},
		{"give away", mine, theirs, []string{"owner"}, false},
		{"take over", theirs, mine, []string{"owner"}, false},
		{"delete mine", mine, nil, nil, true},
		{"delete theirs", theirs, nil, nil, false},
		{"write a hidden field", mine, mine, []string{"secret"}, false},
	} {
		err := g.CheckWrite(tc.before, tc.after, tc.fields)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestNarrowKeepsQueryAndIndexesRule(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, todoPolicy)
	g, _ := p.Grant(principal("alice", nil, nil), "todo")
	q, err := g.Narrow(query.MustParse("done = false AND year > ? ORDER BY year DESC LIMIT 5", 2000))
	if err != nil {
		t.Fatal(err)
	}
	if got := q.String(); got != `done = FALSE AND year > 2000 AND owner = 'alice' ORDER BY year DESC LIMIT 5` {
		t.Fatalf("narrowed: %s", got)
	}
	// The rule's equality is a top-level conjunct, so the fan-out's index uses it.
	if eq := q.Equalities(); len(eq["owner"]) != 1 || eq["owner"][0].Text() != "alice" {
		t.Fatalf("equalities %v", eq)
	}
	if _, err := g.Narrow(query.MustParse("secret = 'x'")); code(err) != protocol.CodePermissionDenied {
		t.Fatalf("a hidden field in a query: %v", err)
	}
	if _, err := g.Narrow(query.MustParse("ORDER BY secret")); code(err) != protocol.CodePermissionDenied {
		t.Fatalf("a hidden field in ORDER BY: %v", err)
	}
}

// Claims are bound as values, never spliced: a sub full of SQL stays a
// string literal of the predicate, and an array claim in a scalar place
// denies instead of widening.
func TestHostileClaims(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, todoPolicy)
	g, err := p.Grant(principal("x' OR '1'='1", nil, nil), "todo")
	if err != nil {
		t.Fatal(err)
	}
	q, _ := g.Narrow(query.MustParse(""))
	m, _ := q.Compile()
	if m.Match(rec(map[string]any{"owner": "bob"})) {
		t.Fatal("an injected sub matched another owner")
	}
	s, err := q.SQL(todoSchema(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.Where, "OR") || len(s.Args) != 1 {
		t.Fatalf("the claim reached the SQL text: %s %v", s.Where, s.Args)
	}
	// sub as an array: the scalar rule cannot bind, so the grant fails (denied).
	_, err = p.Grant(&Principal{Subject: "a", Claims: map[string]any{"sub": []any{"alice", "bob"}}}, "todo")
	if err == nil {
		t.Fatal("an array sub bound into a scalar comparison")
	}
	// A missing teams claim: IN of NULL matches nothing.
	g, err = p.Grant(principal("alice", nil, nil), "doc")
	if err != nil {
		t.Fatal(err)
	}
	q, _ = g.Narrow(query.MustParse(""))
	m, _ = q.Compile()
	if m.Match(rec(map[string]any{"team": "red"})) {
		t.Fatal("a missing teams claim matched")
	}
	// Numbers arrive as json.Number and compare as numbers.
	p2 := mustPolicy(t, `{"roles":{"u":{"collections":{"c":{"read":"level <= $jwt.level"}}}}}`)
	g, err = p2.Grant(&Principal{Subject: "a", Roles: []string{"u"}, Claims: map[string]any{"level": json.Number("3")}}, "c")
	if err != nil {
		t.Fatal(err)
	}
	q, _ = g.Narrow(query.MustParse(""))
	m, _ = q.Compile()
	if !m.Match(rec(map[string]any{"level": 2})) || m.Match(rec(map[string]any{"level": 4})) {
		t.Fatal("numeric claim")
	}
}

func todoSchema() schema.Collection {
	return schema.Collection{Name: "todo", Fields: []schema.Field{{Name: "owner", Type: value.Text}, {Name: "done", Type: value.Bool}, {Name: "year", Type: value.Int}}}
}

func TestParsePolicyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src, want string
	}{
		{"not json", `{`, "not valid JSON"},
		{"unknown key", `{"roles":{},"rolez":1}`, "unknown field"},
		{"no roles", `{}`, `no "roles"`},
		{"undefined default", `{"default_role":"x","roles":{}}`, `role "x" is named as a default`},
		{"parse error", `{"roles":{"u":{"collections":{"c":{"read":"owner = "}}}}}`, "role u, collection c, read rule"},
		{"order by", `{"roles":{"u":{"collections":{"c":{"read":"true ORDER BY x"}}}}}`, "ORDER BY and LIMIT have no place"},
		{"empty rule", `{"roles":{"u":{"collections":{"c":{"write":""}}}}}`, "empty; write true"},
		{"unknown var", `{"roles":{"u":{"collections":{"c":{"read":"owner = $user.id"}}}}}`, "unknown variable $user.id"},
		{"placeholder", `{"roles":{"u":{"collections":{"c":{"read":"owner = ?"}}}}}`, "? has nothing to bind"},
		{"bare $jwt", `{"roles":{"u":{"collections":{"c":{"read":"$jwt = 'x'"}}}}}`, "$jwt needs a claim name"},
		{"hidden id", `{"roles":{"u":{"collections":{"c":{"read":"true","hidden":["id"]}}}}}`, "the id cannot be hidden"},
		{"trailing data", `{"roles":{}} {}`, "data after its JSON object"},
	} {
		_, err := ParsePolicy([]byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Several problems are reported at once.
	_, err := ParsePolicy([]byte(`{"roles":{"a":{"collections":{"c":{"read":"x ="}}},"b":{"collections":{"c":{"write":"y ="}}}}}`))
	if err == nil || !strings.Contains(err.Error(), "role a") || !strings.Contains(err.Error(), "role b") {
		t.Errorf("every problem at once: %v", err)
	}
}

// A policy file is reloaded when it changes; a broken version keeps the
// previous one in force.
func TestPolicyFileReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "policy.json")
	write := func(s string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // as editors do
			t.Fatal(err)
		}
	}
	write(`{"roles":{"u":{"collections":{"c":{"read":"true"}}}}}`)
	src, err := LoadPolicyFile(path, time.Millisecond, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.Watch(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if src.Version() != 1 {
		t.Fatal(src.Version())
	}
	changed := src.Changed()
	write(`{"roles":{"u":{"collections":{"c":{"read":"false"}}}}}`)
	<-changed
	g, _ := src.Policy().Grant(&Principal{Subject: "a", Roles: []string{"u"}}, "c")
	if src.Version() != 2 || g.ReadFilter() == nil {
		t.Fatalf("version %d, filter %v", src.Version(), g.ReadFilter())
	}
	write(`{"roles": broken`)
	if src.Reload() {
		t.Fatal("a broken file took force")
	}
	if src.Version() != 2 {
		t.Fatal("a broken file changed the version")
	}
	if _, err := LoadPolicyFile(path, 0, nil); err == nil {
		t.Fatal("loading a broken file at start must fail")
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(todoPolicy))
	f.Add([]byte(`{"roles":{"u":{"collections":{"*":{"read":"$jwt.a.b IN (1, 2) OR NOT x LIKE 'a%'"}}}}}`))
	f.Add([]byte(`{"roles":{"u":{"collections":{"c":{"read":"team IN $jwt.teams","hidden":["a"]}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		// A policy that parses grants without panicking, for any claims.
		for _, pr := range []*Principal{{}, {Subject: "s", Claims: map[string]any{"sub": "s", "teams": []any{"a", json.Number("1")}, "a": map[string]any{"b": true}}}} {
			for _, r := range p.Roles() {
				pr.Roles = []string{r}
				for _, c := range []string{"c", "todo", "x"} {
					g, err := p.Grant(pr, c)
					if err != nil {
						continue
					}
					if g.CanRead() {
						if q, err := g.Narrow(query.MustParse("")); err == nil {
							if _, err := q.Compile(); err != nil {
								t.Fatalf("a narrowed query does not compile: %v", err)
							}
						}
					}
				}
			}
		}
	})
}

// TestIsAdmin: a principal is an administrator when one of the roles it
// acts in is marked admin — its token's roles, the default role, or the
// anonymous role — and never without a policy.
func TestIsAdmin(t *testing.T) {
	p := mustPolicy(t, `{
  "default_role": "user",
  "anonymous_role": "guest",
  "roles": {
    "guest": {"collections": {}},
    "user":  {"collections": {"*": {"read": "true"}}},
    "ops":   {"admin": true, "collections": {}},
    "root":  {"admin": true, "schema": true, "collections": {"*": {"read": "true", "write": "true"}}}
  }
}`)
	for _, c := range []struct {
		name string
		pr   *Principal
		want bool
	}{
		{"anonymous", &Principal{}, false},
		{"no roles: the default role", &Principal{Subject: "alice"}, false},
		{"a user", &Principal{Subject: "alice", Roles: []string{"user"}}, false},
		{"ops", &Principal{Subject: "bob", Roles: []string{"ops"}}, true},
		{"user and root", &Principal{Subject: "carol", Roles: []string{"user", "root"}}, true},
		{"a role the policy does not define", &Principal{Subject: "dave", Roles: []string{"superuser"}}, false},
	} {
		if got := p.IsAdmin(c.pr); got != c.want {
			t.Errorf("%s: IsAdmin = %v, want %v", c.name, got, c.want)
		}
	}
	anonAdmin := mustPolicy(t, `{"anonymous_role": "guest", "roles": {"guest": {"admin": true, "collections": {}}}}`)
	if !anonAdmin.IsAdmin(&Principal{}) {
		t.Error("the anonymous role is admin, but an anonymous principal is not")
	}
	if AllowAll().IsAdmin(&Principal{Subject: "x", Roles: []string{"admin"}}) {
		t.Error("without a policy (AllowAll) someone is an administrator")
	}
	var none *Policy
	if none.IsAdmin(&Principal{}) {
		t.Error("a nil policy has an administrator")
	}
}

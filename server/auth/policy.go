package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ankurah/ankurah-go/query"
)

// AnyCollection is the collection key of a role's rules for every
// collection it does not name.
const AnyCollection = "*"

// MaxPolicyBytes bounds a policy file.
const MaxPolicyBytes = 4 << 20

// PolicyFile is the policy as written (JSON):
//
//	{
//	  "default_role": "user",
//	  "anonymous_role": "",
//	  "roles": {
//	    "user": {
//	      "collections": {
//	        "todo":  {"read": "owner = $jwt.sub", "write": "owner = $jwt.sub"},
//	        "album": {"read": "true", "hidden": ["internal_notes"]}
//	      }
//	    },
//	    "admin": {"schema": true, "admin": true, "collections": {"*": {"read": "true", "write": "true"}}}
//	  }
//	}
type PolicyFile struct {
	// DefaultRole is the role of a verified token whose role claim is
	// absent or empty. Empty: such a token has no role, so it may do
	// nothing.
	DefaultRole string `json:"default_role,omitempty"`
	// AnonymousRole is the role of a connection that sends no token.
	// Empty (the default): a token is required.
	AnonymousRole string `json:"anonymous_role,omitempty"`
	// Roles by name.
	Roles map[string]RoleRules `json:"roles"`
}

// RoleRules is what one role may do.
type RoleRules struct {
	// Schema allows the role's clients to change the schema: create
	// collections and add fields (DDL on Postgres). Default false.
	Schema bool `json:"schema,omitempty"`
	// Admin makes the role an administrator of the server: its principals
	// may use the inspector (/inspect and its data endpoints, which show
	// every collection, connection and entity history regardless of the
	// read rules) and the pprof listener. It grants no reads or writes
	// over the protocol: those stay the collections' rules. Default false.
	Admin bool `json:"admin,omitempty"`
	// Collections maps a collection name (or "*", every other collection)
	// to its rules. A collection the role does not reach is denied.
	Collections map[string]CollectionRules `json:"collections"`
}

// CollectionRules are one role's rules for one collection.
type CollectionRules struct {
	// Read is the rule an entity must satisfy to be read: a predicate of
	// the query language ("true" for all); absent, nothing is read.
	Read *string `json:"read,omitempty"`
	// Write is the rule every event of a commit must satisfy, on the
	// entity's state before the event (unless it creates the entity) and
	// after it (unless it deletes it); absent, nothing is written.
	Write *string `json:"write,omitempty"`
	// Hidden fields are never sent to the role and may not appear in its
	// queries or writes.
	Hidden []string `json:"hidden,omitempty"`
}

// Policy is a parsed, checked policy. It is immutable.
type Policy struct {
	defaultRole, anonymousRole string
	roles                      map[string]*role
	allowAll                   bool
}

type role struct {
	name   string
	schema bool
	admin  bool
	colls  map[string]*collRules
}

type collRules struct {
	read, write *query.Query // parsed rules with variables; nil: denied
	hidden      map[string]bool
}

// ParsePolicy parses and checks a policy file. Every problem is reported
// at once, each naming its role, collection and rule.
func ParsePolicy(data []byte) (*Policy, error) {
	if len(data) > MaxPolicyBytes {
		return nil, fmt.Errorf("the policy has %d bytes; at most %d are accepted", len(data), MaxPolicyBytes)
	}
	var f PolicyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("the policy is not valid JSON of the expected shape: %v", err)
	}
	if dec.More() {
		return nil, errors.New("the policy has data after its JSON object")
	}
	return CompilePolicy(f)
}

// CompilePolicy checks a policy given as a value.
func CompilePolicy(f PolicyFile) (*Policy, error) {
	var errs []error
	p := &Policy{defaultRole: f.DefaultRole, anonymousRole: f.AnonymousRole, roles: map[string]*role{}}
	if f.Roles == nil {
		errs = append(errs, errors.New(`the policy has no "roles"`))
	}
	for _, name := range []string{f.DefaultRole, f.AnonymousRole} {
		if _, ok := f.Roles[name]; name != "" && !ok {
			errs = append(errs, fmt.Errorf("role %q is named as a default but not defined under roles", name))
		}
	}
	for _, rn := range sortedKeys(f.Roles) {
		rr := f.Roles[rn]
		if rn == "" {
			errs = append(errs, errors.New("a role has an empty name"))
			continue
		}
		r := &role{name: rn, schema: rr.Schema, admin: rr.Admin, colls: map[string]*collRules{}}
		for _, cn := range sortedKeys(rr.Collections) {
			cr := rr.Collections[cn]
			c := &collRules{hidden: map[string]bool{}}
			var err error
			if c.read, err = parseRule(rn, cn, "read", cr.Read); err != nil {
				errs = append(errs, err)
			}
			if c.write, err = parseRule(rn, cn, "write", cr.Write); err != nil {
				errs = append(errs, err)
			}
			for _, h := range cr.Hidden {
				if h == "id" {
					errs = append(errs, fmt.Errorf("role %s, collection %s: the id cannot be hidden", rn, cn))
				}
				c.hidden[h] = true
			}
			r.colls[cn] = c
		}
		p.roles[rn] = r
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// parseRule parses one rule; nil text is no rule (denied).
func parseRule(roleName, coll, kind string, text *string) (*query.Query, error) {
	if text == nil {
		return nil, nil
	}
	q, err := query.ParseRule(*text)
	if err != nil {
		return nil, fmt.Errorf("role %s, collection %s, %s rule: %v", roleName, coll, kind, err)
	}
	if q.OrderBy != nil || q.Limit != nil {
		return nil, fmt.Errorf("role %s, collection %s, %s rule: a rule is a predicate; ORDER BY and LIMIT have no place in it", roleName, coll, kind)
	}
	if q.Where == nil {
		return nil, fmt.Errorf("role %s, collection %s, %s rule: empty; write true to allow everything, or leave the rule out to deny", roleName, coll, kind)
	}
	for _, v := range q.Vars() {
		if v == "" {
			return nil, fmt.Errorf("role %s, collection %s, %s rule: ? has nothing to bind in a rule; use $jwt.<claim>", roleName, coll, kind)
		}
		if !strings.HasPrefix(v, "$jwt.") {
			return nil, fmt.Errorf("role %s, collection %s, %s rule: unknown variable %s; rules read the token's claims as $jwt.<claim>", roleName, coll, kind, v)
		}
	}
	var bad error
	visitPredicates(q.Where, func(path query.Path) {
		if f := path.Field(); strings.HasPrefix(f, "$") && f != "$jwt" && bad == nil {
			bad = fmt.Errorf("role %s, collection %s, %s rule: unknown variable %s; rules read the token's claims as $jwt.<claim>", roleName, coll, kind, f)
		}
		if path.Field() == "$jwt" && len(path.Steps) < 2 && bad == nil {
			bad = fmt.Errorf("role %s, collection %s, %s rule: $jwt needs a claim name, e.g. $jwt.role", roleName, coll, kind)
		}
	})
	return q, bad
}

// Roles returns the policy's role names, sorted.
func (p *Policy) Roles() []string { return sortedKeys(p.roles) }

// RolesOf returns the roles a principal acts in under this policy: its
// token's roles that the policy defines, or the default role when the
// token names none (the anonymous role without a token).
func (p *Policy) RolesOf(pr *Principal) []string {
	if p.allowAll {
		return []string{p.defaultRole}
	}
	if pr == nil || pr.Anonymous() {
		if p.anonymousRole == "" {
			return nil
		}
		return []string{p.anonymousRole}
	}
	var out []string
	for _, r := range pr.Roles {
		if _, ok := p.roles[r]; ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(pr.Roles) == 0 && p.defaultRole != "" {
		out = append(out, p.defaultRole)
	}
	return out
}

// IsAdmin reports whether a principal acts in a role marked admin (see
// RoleRules.Admin). Without a policy (AllowAll) nobody is: a server
// without one serves its administration on loopback only.
func (p *Policy) IsAdmin(pr *Principal) bool {
	if p == nil || p.allowAll {
		return false
	}
	for _, rn := range p.RolesOf(pr) {
		if r := p.roles[rn]; r != nil && r.admin {
			return true
		}
	}
	return false
}

// AllowsAnonymous reports whether connections without a token have a role.
func (p *Policy) AllowsAnonymous() bool { return p.anonymousRole != "" }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// visitPredicates calls f with the path of every leaf predicate.
func visitPredicates(e query.Expr, f func(query.Path)) {
	switch x := e.(type) {
	case *query.And:
		for _, t := range x.Terms {
			visitPredicates(t, f)
		}
	case *query.Or:
		for _, t := range x.Terms {
			visitPredicates(t, f)
		}
	case *query.Not:
		visitPredicates(x.X, f)
	case *query.Compare:
		f(x.Path)
	case *query.In:
		f(x.Path)
	case *query.IsNull:
		f(x.Path)
	case *query.Between:
		f(x.Path)
	case *query.Like:
		f(x.Path)
	}
}

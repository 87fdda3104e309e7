// Package auth authenticates connections and authorises what they do.
//
// Authentication: a client sends a JSON Web Token in hello (and may replace
// it on a live connection); a Verifier checks it — signature, algorithm,
// expiry, issuer, audience, size — with a shared secret, PEM public keys,
// a JWKS file or a JWKS URL, and turns it into a Principal.
//
// Authorisation: a Policy (a JSON file, reloaded when it changes) gives
// each role, per collection, a read rule and a write rule written in the
// query language, with claim variables such as $jwt.sub, and the fields the
// role may not see. For one principal and one collection it compiles into a
// Grant: bound predicates that the server ANDs into every query it runs
// for the principal (in memory and in SQL, so snapshots, live changes,
// window refills and fetches all obey it) and checks on every event of a
// commit, before and after. Everything not granted is denied.
//
// The rest of the server sees only a Principal and Grants.
package auth

import (
	"time"
)

// Principal is who a connection acts for.
type Principal struct {
	// Subject is the token's sub; "" for an anonymous connection.
	Subject string
	// Roles come from the token's role claim (see TokenConfig.RoleClaim),
	// or the policy's default and anonymous roles.
	Roles []string
	// Claims are the token's claims, as decoded JSON (numbers are
	// json.Number). Rules read them as $jwt.<claim>.
	Claims map[string]any
	// Expires is when the token stops being valid (its exp plus the clock
	// skew); zero for none.
	Expires time.Time
}

// Anonymous reports whether the principal has no token.
func (p *Principal) Anonymous() bool { return p.Subject == "" }

// Author is what events written by the principal record as their author.
func (p *Principal) Author() string {
	if p == nil || p.Subject == "" {
		return ""
	}
	return p.Subject
}

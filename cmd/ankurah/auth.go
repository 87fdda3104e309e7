package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/server/auth"
)

// authFlags are serve's authentication and authorisation flags.
type authFlags struct {
	secretFile, publicKeys, jwksFile, jwksURL string
	issuer, audience, roleClaim               string
	clockSkew                                 time.Duration
	policy, origins                           string
	insecureAnonymous                         bool
	getenv                                    func(string) string
}

func declareAuthFlags(fs *flag.FlagSet, e *env) *authFlags {
	a := &authFlags{getenv: e.getenv}
	fs.StringVar(&a.secretFile, "jwt-secret-file", e.getenv("ANKURAH_JWT_SECRET_FILE"), "`file` holding the HS256 secret tokens are signed with, at least 32 bytes (env ANKURAH_JWT_SECRET_FILE; or the secret itself in ANKURAH_JWT_SECRET)")
	fs.StringVar(&a.publicKeys, "jwt-public-keys", e.getenv("ANKURAH_JWT_PUBLIC_KEYS"), "comma-separated PEM `files` of public keys for RS256, ES256 and EdDSA tokens (env ANKURAH_JWT_PUBLIC_KEYS)")
	fs.StringVar(&a.jwksFile, "jwks-file", e.getenv("ANKURAH_JWKS_FILE"), "a JSON Web Key Set `file` (env ANKURAH_JWKS_FILE)")
	fs.StringVar(&a.jwksURL, "jwks-url", e.getenv("ANKURAH_JWKS_URL"), "the `URL` of an identity provider's JSON Web Key Set, fetched and refreshed (env ANKURAH_JWKS_URL)")
	fs.StringVar(&a.issuer, "jwt-issuer", e.getenv("ANKURAH_JWT_ISSUER"), "the `iss` tokens must carry (env ANKURAH_JWT_ISSUER)")
	fs.StringVar(&a.audience, "jwt-audience", e.getenv("ANKURAH_JWT_AUDIENCE"), "the `aud` tokens must include (env ANKURAH_JWT_AUDIENCE)")
	fs.StringVar(&a.roleClaim, "jwt-role-claim", envOr(e.getenv, "ANKURAH_JWT_ROLE_CLAIM", auth.DefaultRoleClaim), "the `claim` holding a token's roles; dotted for nested claims (env ANKURAH_JWT_ROLE_CLAIM)")
	fs.DurationVar(&a.clockSkew, "jwt-clock-skew", auth.DefaultClockSkew, "leeway on exp, nbf and iat")
	fs.StringVar(&a.policy, "policy", e.getenv("ANKURAH_POLICY"), "the policy `file` (JSON; reloaded when it changes; docs/security.md) (env ANKURAH_POLICY)")
	fs.StringVar(&a.origins, "allowed-origins", e.getenv("ANKURAH_ALLOWED_ORIGINS"), "comma-separated browser `origins` (host patterns) allowed to connect; empty allows all (env ANKURAH_ALLOWED_ORIGINS)")
	fs.BoolVar(&a.insecureAnonymous, "insecure-allow-anonymous", e.getenv("ANKURAH_INSECURE_ALLOW_ANONYMOUS") == "1", "serve without a policy on an address that is not loopback: anyone who reaches it may do anything (env ANKURAH_INSECURE_ALLOW_ANONYMOUS=1)")
	return a
}

// secret reads the HS256 secret: the file's content, or ANKURAH_JWT_SECRET.
func (a *authFlags) secret() ([]byte, error) {
	if a.secretFile != "" {
		b, err := os.ReadFile(a.secretFile)
		if err != nil {
			return nil, failed("cannot read the JWT secret: %v", pathError(err)).withFix("pass --jwt-secret-file with a readable file")
		}
		return []byte(strings.TrimSpace(string(b))), nil
	}
	return []byte(a.getenv("ANKURAH_JWT_SECRET")), nil
}

// tokens returns the token configuration, or nil when no key is given.
func (a *authFlags) tokens(log *slog.Logger) (*auth.TokenConfig, error) {
	secret, err := a.secret()
	if err != nil {
		return nil, err
	}
	cfg := auth.TokenConfig{Secret: secret, JWKSFile: a.jwksFile, JWKSURL: a.jwksURL, Issuer: a.issuer,
		Audience: a.audience, RoleClaim: a.roleClaim, ClockSkew: a.clockSkew, Logger: log}
	for _, f := range strings.Split(a.publicKeys, ",") {
		if f = strings.TrimSpace(f); f != "" {
			cfg.PublicKeyFiles = append(cfg.PublicKeyFiles, f)
		}
	}
	if len(cfg.Secret) == 0 && len(cfg.PublicKeyFiles) == 0 && cfg.JWKSFile == "" && cfg.JWKSURL == "" {
		return nil, nil
	}
	return &cfg, nil
}

// configure fills a server config's authentication and authorisation. It
// returns what serve says once it serves, when that is not safe to expose.
func (a *authFlags) configure(ctx context.Context, cfg *server.Config, log *slog.Logger) (warning string, err error) {
	tc, err := a.tokens(log)
	if err != nil {
		return "", err
	}
	if tc != nil {
		v, err := auth.NewVerifier(ctx, *tc)
		if err != nil {
			return "", usageError("tokens: %s", oneLine(err.Error())).withFix("see `ankurah help serve` and docs/security.md")
		}
		cfg.Tokens = v
	}
	if a.policy != "" {
		src, err := auth.LoadPolicyFile(a.policy, 0, log)
		if err != nil {
			return "", usageError("%s", oneLine(err.Error())).withFix("docs/security.md describes the policy file")
		}
		cfg.Policy = src
		if tc == nil && !src.Policy().AllowsAnonymous() {
			return "", usageError("the policy gives anonymous connections no role, and no token keys are configured: nobody could connect").
				withFix("pass --jwt-secret-file, --jwt-public-keys, --jwks-file or --jwks-url, or set anonymous_role in the policy")
		}
	}
	cfg.InsecureAllowAnonymous = a.insecureAnonymous
	for _, o := range strings.Split(a.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.OriginPatterns = append(cfg.OriginPatterns, o)
		}
	}
	if cfg.Policy == nil {
		return "no policy (--policy): anyone who reaches this server may read, write and change everything; for development only (docs/security.md)", nil
	}
	return "", nil
}

// tokenCommand mints a development token signed with the server's secret.
func tokenCommand() *command {
	return &command{
		name: "token", args: []string{"--sub SUBJECT [--role ROLE]… [--claim NAME=VALUE]…"}, summary: "sign a development token with the HS256 secret (for local testing)",
		doc: `Prints a JSON Web Token signed with the server's HS256 secret
(--jwt-secret-file, or ANKURAH_JWT_SECRET), for trying a policy locally:
  ankurah token --sub alice --role user
Clients send it in hello (the Go client's Options.Token, the TypeScript
client's token option). A VALUE that is valid JSON is that JSON (a number,
true, ["a","b"]), anything else is a string. Real deployments get tokens
from their identity provider; see docs/security.md.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			a := &authFlags{getenv: e.getenv}
			fs.StringVar(&a.secretFile, "jwt-secret-file", e.getenv("ANKURAH_JWT_SECRET_FILE"), "`file` holding the HS256 secret (env ANKURAH_JWT_SECRET_FILE; or the secret in ANKURAH_JWT_SECRET)")
			sub := fs.String("sub", "", "the token's `subject` (sub): the user it stands for")
			var roles, claims multiFlag
			fs.Var(&roles, "role", "a `role` (repeatable); in the claim --role-claim")
			fs.Var(&claims, "claim", "another claim, `NAME=VALUE` (repeatable)")
			roleClaim := fs.String("role-claim", envOr(e.getenv, "ANKURAH_JWT_ROLE_CLAIM", auth.DefaultRoleClaim), "the `claim` to put the roles in (env ANKURAH_JWT_ROLE_CLAIM)")
			ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
			issuer := fs.String("issuer", e.getenv("ANKURAH_JWT_ISSUER"), "the `iss` to put in (env ANKURAH_JWT_ISSUER)")
			audience := fs.String("audience", e.getenv("ANKURAH_JWT_AUDIENCE"), "the `aud` to put in (env ANKURAH_JWT_AUDIENCE)")
			return func(context.Context, []string) error {
				if *sub == "" {
					return usageError("--sub is required").withFix("ankurah token --sub alice --role user")
				}
				if *ttl <= 0 {
					return usageError("--ttl must be positive")
				}
				secret, err := a.secret()
				if err != nil {
					return err
				}
				if len(secret) == 0 {
					return usageError("no secret to sign with").withFix("pass --jwt-secret-file FILE or set ANKURAH_JWT_SECRET (the same as the server's)")
				}
				if len(secret) < auth.MinSecretBytes {
					return usageError("the secret has %d bytes; at least %d are needed", len(secret), auth.MinSecretBytes).withFix("make one with: openssl rand -base64 48")
				}
				now := time.Now()
				c := jwt.MapClaims{"sub": *sub, "iat": now.Unix(), "exp": now.Add(*ttl).Unix()}
				if *issuer != "" {
					c["iss"] = *issuer
				}
				if *audience != "" {
					c["aud"] = *audience
				}
				for _, kv := range claims {
					name, v, ok := strings.Cut(kv, "=")
					if !ok || name == "" {
						return usageError("--claim %q is not NAME=VALUE", kv)
					}
					c[name] = jsonOrText(v)
				}
				switch len(roles) {
				case 0:
				case 1:
					setPath(c, *roleClaim, roles[0])
				default:
					setPath(c, *roleClaim, []string(roles))
				}
				s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
				if err != nil {
					return failed("%v", err)
				}
				fmt.Fprintln(e.stdout, s)
				return nil
			}
		},
	}
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// setPath sets a dotted claim path, making the objects on the way.
func setPath(c map[string]any, path string, v any) {
	steps := strings.Split(path, ".")
	for _, s := range steps[:len(steps)-1] {
		next, ok := c[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			c[s] = next
		}
		c = next
	}
	c[steps[len(steps)-1]] = v
}

// jsonOrText is a claim's value: the JSON it is, or else the text.
func jsonOrText(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}

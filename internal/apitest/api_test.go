package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ankurah/ankurah-go"

// public is the module's public API: the packages docs/api.md lists. A
// package added outside internal/ must be added here and there, on purpose.
var public = []string{
	"clients/go/client",
	"codegen",
	"entity",
	"event",
	"migrations",
	"node",
	"protocol",
	"query",
	"replication",
	"schema",
	"server",
	"server/auth",
	"sql",
	"storage",
	"storage/memory",
	"storage/postgres",
	"storage/sqlite",
	"value",
}

// programs are outside internal/ but not importable API: the binary and
// the examples (main packages, or an example's own model).
var programs = []string{"cmd/", "examples/"}

// untagged are dependencies without release tags: none of their types may
// appear in the public API (a pseudo-version promises nothing).
var untagged = []string{"github.com/jackc/pglogrepl"}

type listed struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	Export     string
	Standard   bool
	DepOnly    bool
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// goList lists the module's packages and their dependencies, with the
// export data the type checker imports them from.
func goList(t *testing.T) []listed {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-e", "-export", "-deps", "-json=ImportPath,Name,Dir,GoFiles,Export,Standard,DepOnly,Module,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(importPath string) (string, bool) {
	if importPath == module {
		return "", true
	}
	r, ok := strings.CutPrefix(importPath, module+"/")
	return r, ok
}

func isInternal(r string) bool {
	return r == "internal" || strings.HasPrefix(r, "internal/") || strings.Contains(r, "/internal/") || strings.HasSuffix(r, "/internal")
}

// TestPublicPackages: `go list ./...` shows the declared public packages,
// the programs, and nothing else outside internal/; every package is named
// after its folder.
func TestPublicPackages(t *testing.T) {
	t.Parallel()
	pkgs := goList(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		r, ours := rel(p.ImportPath)
		if !ours || p.DepOnly {
			continue
		}
		seen[r] = true
		if p.Name != "main" && p.Name != path.Base(p.ImportPath) {
			t.Errorf("package %s is named %s: name it after its folder", r, p.Name)
		}
		switch {
		case isInternal(r), slices.Contains(public, r):
		case slices.ContainsFunc(programs, func(pre string) bool { return strings.HasPrefix(r, pre) }):
		default:
			t.Errorf("package %s is importable but not declared public: move it under internal/, or declare it (this test's list and docs/api.md)", r)
		}
	}
	for _, r := range public {
		if !seen[r] {
			t.Errorf("declared public package %s does not exist", r)
		}
	}
	// docs/api.md lists exactly these packages.
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range public {
		if !bytes.Contains(doc, []byte("`"+r+"`")) {
			t.Errorf("docs/api.md does not list public package %s", r)
		}
	}
}

// TestPublicAPIMentionsNoInternalType: no exported declaration of a public
// package — a function's or method's signature, an exported field, a
// variable's or constant's type, an interface's methods, methods promoted
// from embedded fields — mentions a type from an internal package or from
// an untagged dependency.
func TestPublicAPIMentionsNoInternalType(t *testing.T) {
	t.Parallel()
	pkgs := goList(t)
	exports := map[string]string{}
	for _, p := range pkgs {
		if p.Export != "" {
			exports[p.ImportPath] = p.Export
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	checked := 0
	for _, p := range pkgs {
		r, ours := rel(p.ImportPath)
		if !ours || p.DepOnly || !slices.Contains(public, r) {
			continue
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		conf := types.Config{Importer: imp}
		pkg, err := conf.Check(p.ImportPath, fset, files, nil)
		if err != nil {
			t.Fatalf("type-checking %s: %v", r, err)
		}
		for _, bad := range forbiddenMentions(pkg) {
			t.Errorf("%s: %s", r, bad)
		}
		checked++
	}
	if checked != len(public) {
		t.Fatalf("checked %d public packages, want %d", checked, len(public))
	}
}

// forbiddenMentions walks the exported API of pkg and reports every
// reference to a named type from an internal package or an untagged module.
func forbiddenMentions(pkg *types.Package) []string {
	var out []string
	seen := map[types.Type]bool{}
	var walk func(where string, typ types.Type)
	check := func(where string, obj *types.TypeName) {
		if obj.Pkg() == nil {
			return
		}
		p := obj.Pkg().Path()
		if r, ours := rel(p); ours && isInternal(r) {
			out = append(out, fmt.Sprintf("%s mentions %s.%s from internal package %s", where, obj.Pkg().Name(), obj.Name(), r))
		}
		for _, u := range untagged {
			if p == u || strings.HasPrefix(p, u+"/") {
				out = append(out, fmt.Sprintf("%s mentions %s.%s from untagged module %s", where, obj.Pkg().Name(), obj.Name(), u))
			}
		}
	}
	walk = func(where string, typ types.Type) {
		if typ == nil || seen[typ] {
			return
		}
		seen[typ] = true
		switch t := typ.(type) {
		case *types.Named:
			check(where, t.Obj())
			for i := range t.TypeArgs().Len() {
				walk(where, t.TypeArgs().At(i))
			}
			// A named type of another package is that package's business,
			// except for the check above; our own are walked from their
			// declaration.
		case *types.Alias:
			walk(where, types.Unalias(t))
		case *types.Pointer:
			walk(where, t.Elem())
		case *types.Slice:
			walk(where, t.Elem())
		case *types.Array:
			walk(where, t.Elem())
		case *types.Map:
			walk(where, t.Key())
			walk(where, t.Elem())
		case *types.Chan:
			walk(where, t.Elem())
		case *types.Signature:
			for i := range t.Params().Len() {
				walk(where, t.Params().At(i).Type())
			}
			for i := range t.Results().Len() {
				walk(where, t.Results().At(i).Type())
			}
			for i := range t.TypeParams().Len() {
				walk(where, t.TypeParams().At(i).Constraint())
			}
		case *types.Struct:
			for i := range t.NumFields() {
				if f := t.Field(i); f.Exported() {
					walk(where+"."+f.Name(), f.Type())
				}
			}
		case *types.Interface:
			for i := range t.NumMethods() {
				if m := t.Method(i); m.Exported() {
					walk(where+"."+m.Name(), m.Type())
				}
			}
			for i := range t.NumEmbeddeds() {
				walk(where, t.EmbeddedType(i))
			}
		case *types.Union:
			for i := range t.Len() {
				walk(where, t.Term(i).Type())
			}
		case *types.TypeParam:
			walk(where, t.Constraint())
		}
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch o := obj.(type) {
		case *types.TypeName:
			named, ok := o.Type().(*types.Named)
			if !ok { // an alias
				walk(name, types.Unalias(o.Type()))
				continue
			}
			for i := range named.TypeParams().Len() {
				walk(name, named.TypeParams().At(i).Constraint())
			}
			walk(name, named.Underlying())
			// Methods, promoted ones included, on T and *T.
			ms := types.NewMethodSet(types.NewPointer(named))
			for i := range ms.Len() {
				if m := ms.At(i).Obj(); m.Exported() {
					walk(name+"."+m.Name(), m.Type())
				}
			}
		default:
			walk(name, obj.Type())
		}
	}
	return out
}

package main

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The rules between the packages (ARCHITECTURE.md): the core, the mail
// reader and the sign-in import nothing of ours, the quote rules only the reader, and
// nothing imports the command.
func TestPackageRules(t *testing.T) {
	const module = "github.com/ticketd/ticketd/"
	allowed := map[string][]string{
		"ticket":         nil,
		"mailbox/rfc822": nil,
		"mailbox/oauth":  nil,
		"mailbox/quote":  {"mailbox/rfc822"},
	}
	for _, dir := range packageDirs(t) {
		pkg, err := build.ImportDir(filepath.Join("..", "..", dir), 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			ours, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if strings.HasPrefix(ours, "cmd/") && dir != "cmd/ticketd-bench" {
				t.Errorf("%s imports %s: nothing imports a command", dir, ours)
			}
			if allow, ruled := allowed[dir]; ruled && !slices.Contains(allow, ours) {
				t.Errorf("%s imports %s; it may import only %v of ours", dir, ours, allow)
			}
		}
	}
}

// No package-level variable is written after init: a function body never
// assigns to one, nor increments it. (What a method call does to one, a
// mutex or a counter, would show in review; there are none.)
func TestNoPackageVariableIsWritten(t *testing.T) {
	for _, dir := range packageDirs(t) {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, filepath.Join("..", "..", dir), func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, pkg := range pkgs {
			vars := map[string]bool{}
			top := map[*ast.ValueSpec]bool{}
			for _, f := range pkg.Files {
				for _, d := range f.Decls {
					if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
						for _, s := range g.Specs {
							top[s.(*ast.ValueSpec)] = true
							for _, n := range s.(*ast.ValueSpec).Names {
								if n.Name != "_" {
									vars[n.Name] = true
								}
							}
						}
					}
				}
			}
			for _, f := range pkg.Files {
				for _, d := range f.Decls {
					fn, ok := d.(*ast.FuncDecl)
					if !ok || fn.Body == nil || fn.Name.Name == "init" && fn.Recv == nil {
						continue
					}
					ast.Inspect(fn.Body, func(n ast.Node) bool {
						var lhs []ast.Expr
						switch s := n.(type) {
						case *ast.AssignStmt:
							if s.Tok != token.DEFINE {
								lhs = s.Lhs
							}
						case *ast.IncDecStmt:
							lhs = []ast.Expr{s.X}
						}
						for _, e := range lhs {
							if id := rootIdent(e); id != nil && isPackageVar(id, vars, top) {
								t.Errorf("%s: %s writes the package-level variable %s", fset.Position(id.Pos()), fn.Name.Name, id.Name)
							}
						}
						return true
					})
				}
			}
		}
	}
}

// rootIdent is the variable an assignment target starts from (x in x,
// x.f, x[i]), or nil.
func rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			return x
		case *ast.SelectorExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// isPackageVar reports whether id names a package-level variable: it
// resolves to a top-level var spec of its file, or, unresolved in its
// file, it names a top-level var of another file of the package.
func isPackageVar(id *ast.Ident, vars map[string]bool, top map[*ast.ValueSpec]bool) bool {
	if id.Obj == nil {
		return vars[id.Name]
	}
	spec, ok := id.Obj.Decl.(*ast.ValueSpec)
	return ok && id.Obj.Kind == ast.Var && top[spec]
}

// packageDirs lists the module's package directories, relative to its
// root.
func packageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			if !slices.Contains(dirs, filepath.ToSlash(rel)) {
				dirs = append(dirs, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

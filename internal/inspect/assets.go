package inspect

import (
	"embed"
	"io/fs"
)

// pageFiles holds the page: index.html and style.css as written in web/,
// and inspector.js, built from web/src by esbuild into dist/ (npm run build
// -w @ankurah/inspector, or make inspector). The build is committed so that
// go build and go test need no npm; make ts-test checks that it is the
// build of its sources (npm run check -w @ankurah/inspector).
//
//go:embed web/index.html web/style.css dist/inspector.js
var pageFiles embed.FS

// pagePaths maps the page's URL paths to their embedded files.
var pagePaths = map[string]string{
	"index.html":   "web/index.html",
	"style.css":    "web/style.css",
	"inspector.js": "dist/inspector.js",
}

// pageFS is the page's files under their URL paths.
type pageFS struct{}

func (pageFS) Open(name string) (fs.File, error) {
	p, ok := pagePaths[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return pageFiles.Open(p)
}

package inspect

import "embed"

// distFS is the page, built from web/ by esbuild (npm run build -w
// @ankurah/inspector, or make inspector). The build is committed so that
// go build and go test need no npm; make ts-test checks that it is the
// build of its sources (npm run check -w @ankurah/inspector).
//
//go:embed dist
var distFS embed.FS

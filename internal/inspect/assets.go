package inspect

import "embed"

// distFS is the page, built from web/ by Vite (npm run build -w
// @ankurah/inspector, part of make build-inspector). The build is
// committed so that go build works without npm; make ts-test checks that
// it matches its sources.
//
//go:embed dist
var distFS embed.FS

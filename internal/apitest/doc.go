// Package apitest holds the test that keeps the module's public API what
// docs/api.md declares: the importable packages, and no type from an
// internal package or an untagged dependency in their exported API. It has
// no code of its own.
package apitest

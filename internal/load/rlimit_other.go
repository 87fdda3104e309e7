//go:build !unix

package load

func raiseFileLimit() {}

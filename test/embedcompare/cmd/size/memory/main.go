// Command memory is the binary-size baseline: the memory store only.
package main

import "github.com/ankurah/ankurah-go/test/embedcompare/cmd/size"

func main() { size.Run(nil) }

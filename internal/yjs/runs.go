package yjs

// Run is a stretch of the text made of consecutive units of one client:
// Len UTF-16 code units whose ids are (Client, Clock), (Client, Clock+1), ….
type Run struct {
	Client, Clock, Len uint64
}

// Runs returns the text as runs of ids, in document order: the visible text
// only (deleted content, formatting marks and embeds are left out), so the
// runs' lengths add up to Len. Adjacent runs that continue each other are
// joined. It is what an editor that cannot run Yjs (the SQL triggers) needs
// to name the units around a position.
func (d *Doc) Runs() []Run {
	t := d.share[d.textName]
	if t == nil {
		return nil
	}
	var out []Run
	for it := t.start; it != nil; it = it.right {
		if it.ckind != contentString || it.deleted() {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Client == it.id.Client && out[n-1].Clock+out[n-1].Len == it.id.Clock {
			out[n-1].Len += it.length
			continue
		}
		out = append(out, Run{it.id.Client, it.id.Clock, it.length})
	}
	return out
}

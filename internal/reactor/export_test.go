package reactor

// IndexKind names the index a subscription is registered under, so that
// the property test can tell that it exercises every kind.
func IndexKind(s *Subscription) string {
	return [...]string{"unindexed", "eq", "null", "prefix", "range", "gram"}[s.index.kind]
}

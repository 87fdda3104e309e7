// Package query is Ankurah's query language: one parser, and two executions
// that agree — an in-memory evaluator (Matcher, for the reactor and clients)
// and a translation to parameterised SQL over a collection table (SQL,
// Select, for the Postgres storage).
//
//	q, err := query.Parse("year > ? AND (artist = 'Muse' OR artist = 'Radiohead') ORDER BY year DESC LIMIT 20", 2000)
//	m, err := q.Compile()
//	m.Match(entity)                     // one entity
//	query.Apply(m, entities)            // filter, sort, limit
//	s, err := q.SQL(collection, 1)      // WHERE / ORDER BY / LIMIT with $n args
//
// The semantics — three-valued logic, strict typing (9 is not '9'), JSON
// paths, ordering with NULLs last and id as the final tie-break — are
// written down in docs/query-language.md. The differential test
// (diff_test.go) checks both executions against each other on random
// tables and queries in a real Postgres.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package query

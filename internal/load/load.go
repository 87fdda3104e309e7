// Package load is the logic of `ankurah bench`: an end-to-end load test of
// live queries over WebSocket against a real Postgres.
//
// One run creates a scratch database on the given Postgres server, starts an
// Ankurah server in this process on a loopback port, opens Conns WebSocket
// connections with Subs equality subscriptions (`key = ?`) each over Keys
// keys — in a separate client process by default — and has Writers
// connections issue plain SQL INSERTs and UPDATEs (one row per transaction)
// at Rate per second. It measures, for the same writes:
//
//   - write → client: from the writer's COMMIT returning to the WebSocket
//     client having read the frame that carries the change (the payload of
//     every write names it, so frames are matched to writes exactly);
//   - the floor: from the same COMMIT returning to a bare replication
//     consumer (package replication, its own slot, a handler that only takes
//     the time) having decoded the transaction;
//   - memory: the server process's live heap and goroutine stacks after GC
//     before and after the idle connections are opened, and after the
//     subscriptions are added.
//
// Every clock reading is time.Now on one machine: the client process
// reports wall-clock (Unix) nanoseconds, the same clock the coordinator
// uses.
//
// In throughput mode (Config.Mode) the writes are a backlog instead: the
// server's stream is held back (its slot keeps the WAL) while Backlog
// single-row transactions are committed as fast as the writers can, then
// released; the run measures how fast the server decodes, matches and
// queues them and how fast the clients have them all, and, on the same
// backlog from a slot of its own, how fast the bare replication consumer
// decodes them (the floor).
package load

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/internal/pgdb"
	"github.com/ankurah/ankurah-go/migrations"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/server/auth"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

// Client placements.
const (
	ClientsProcess = "process" // a child process (Config.WorkerCmd)
	ClientsInProc  = "inproc"  // goroutines of this process (tests)
)

// Collection is the benchmark's collection: bench_item(key bigint, payload
// text, owner text, tag text), tag being 'k' and the key in 8 digits and '-'
// (what the prefix and like predicates look for).
const Collection = "bench_item"

// Predicate shapes of the subscriptions (Config.Predicate). Each matches
// exactly the rows of its key, so every shape delivers the same items and
// only the fan-out's matching differs.
const (
	PredicateEq     = "eq"     // key = k
	PredicateIn     = "in"     // key IN (k, -1-k)
	PredicateRange  = "range"  // key >= k AND key < k+1
	PredicatePrefix = "prefix" // tag LIKE 'k<k, 8 digits>-%'
	PredicateLike   = "like"   // tag LIKE '%<k, 8 digits>-%'
	PredicateMixed  = "mixed"  // the five above in turn
)

// Predicates lists the shapes, in the order mixed cycles through them.
var Predicates = []string{PredicateEq, PredicateIn, PredicateRange, PredicatePrefix, PredicateLike}

// Modes of a run.
const (
	ModeLatency    = "latency"    // writes at Rate; latency of each (default)
	ModeThroughput = "throughput" // a Backlog drained at full speed
)

// Defaults of Config.
const (
	DefaultBacklog  = 50_000
	DefaultConns    = 1000
	DefaultSubs     = 10
	DefaultKeys     = 1000
	DefaultRate     = 1000
	DefaultWriters  = 4
	DefaultDuration = 20 * time.Second
	DefaultWarmup   = 2 * time.Second
)

// Config describes a run. The zero value of every field but DatabaseURL
// means its default: WithDefaults fills them in (on a copy), and Validate
// reports every problem at once.
type Config struct {
	// Mode is ModeLatency (default) or ModeThroughput.
	Mode string
	// Backlog is the number of writes of a throughput run. Default
	// DefaultBacklog (50,000).
	Backlog int
	// DatabaseURL is a Postgres server (wal_level=logical); the run
	// creates a scratch database on it, and drops it afterwards.
	DatabaseURL string
	// Conns WebSocket connections with Subs subscriptions each over Keys
	// keys. Defaults DefaultConns (1,000), DefaultSubs (10) and DefaultKeys
	// (1,000 keys; in throughput mode Conns·Subs, so that every change
	// matches exactly one subscription).
	Conns, Subs, Keys int
	// Rate writes per second for Duration, after Warmup (writes made during
	// the warm-up are delivered but not counted), by Writers connections.
	// Defaults DefaultRate (1,000/s), DefaultDuration (20 s), DefaultWarmup
	// (2 s), DefaultWriters (4).
	Rate             int
	Duration, Warmup time.Duration
	Writers          int
	// Inserts is the fraction of writes that INSERT a new row (with a
	// random key); the others UPDATE the payload of the row created for a
	// random key before the subscriptions. Default 0: updates only.
	Inserts float64
	// Seed makes the writes' keys and kinds repeatable (0: random).
	Seed uint64
	// Clients is where the client connections live: ClientsProcess
	// (default) runs WorkerCmd (with WorkerEnv added to the environment) and
	// speaks to Worker over its stdin/stdout; ClientsInProc runs Worker in
	// this process, so that the memory figures include the clients.
	Clients   string
	WorkerCmd []string
	WorkerEnv []string
	// CPUProfile, if set, receives a CPU profile (pprof) of this process
	// while the measured writes or the backlog's drain run.
	CPUProfile io.Writer
	// KeepDatabase leaves the scratch database (its slots are dropped).
	KeepDatabase bool
	// Predicate is the shape of every subscription's query (the
	// Predicate… constants). Default PredicateEq.
	Predicate string
	// Policy runs the server with token checks and a per-user read rule,
	// owner = $jwt.sub: connection i acts for user u<i>, and every row is
	// owned by the user whose connection subscribes to its key, so that
	// each change still matches exactly one subscription (throughput mode
	// only). Without it the same rows, with the same owners, are served
	// with no policy — the baseline. Default false.
	Policy bool
	// Log receives progress lines, the server's warnings and the client
	// process's stderr (default: discarded).
	Log io.Writer
}

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Mode == "" {
		c.Mode = ModeLatency
	}
	if c.Predicate == "" {
		c.Predicate = PredicateEq
	}
	def(&c.Conns, DefaultConns)
	def(&c.Subs, DefaultSubs)
	if c.Mode == ModeThroughput {
		def(&c.Keys, c.Conns*c.Subs)
	}
	def(&c.Keys, DefaultKeys)
	def(&c.Backlog, DefaultBacklog)
	def(&c.Rate, DefaultRate)
	def(&c.Writers, DefaultWriters)
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Warmup == 0 {
		c.Warmup = DefaultWarmup
	}
	if c.Seed == 0 {
		c.Seed = mrand.Uint64()
	}
	if c.Clients == "" {
		c.Clients = ClientsProcess
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Validate reports every problem with the configuration (defaults applied)
// at once.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("no database URL"))
	} else if _, err := pgx.ParseConfig(c.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("database URL: %w", err))
	}
	if c.Mode != ModeLatency && c.Mode != ModeThroughput {
		errs = append(errs, fmt.Errorf("mode must be %q or %q (got %q)", ModeLatency, ModeThroughput, c.Mode))
	}
	for name, v := range map[string]int{"connections": c.Conns, "subscriptions per connection": c.Subs, "keys": c.Keys, "rate": c.Rate, "writers": c.Writers, "backlog": c.Backlog} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s must be at least 1 (got %d)", name, v))
		}
	}
	if c.Predicate != PredicateMixed && !slices.Contains(Predicates, c.Predicate) {
		errs = append(errs, fmt.Errorf("predicate must be one of %s or %s (got %q)", strings.Join(Predicates, ", "), PredicateMixed, c.Predicate))
	}
	if c.Keys > 1e8 {
		errs = append(errs, fmt.Errorf("at most 100,000,000 keys (tags have 8 digits; got %d)", c.Keys))
	}
	if c.Policy && c.Mode != ModeThroughput {
		errs = append(errs, errors.New("a policy run needs the throughput mode (one subscriber per key, its owner)"))
	}
	if c.Subs > server.DefaultMaxSubscriptions {
		errs = append(errs, fmt.Errorf("at most %d subscriptions per connection (the server's limit)", server.DefaultMaxSubscriptions))
	}
	if c.Duration <= 0 || c.Warmup < 0 {
		errs = append(errs, errors.New("duration must be positive and warm-up not negative"))
	}
	if c.Inserts < 0 || c.Inserts > 1 {
		errs = append(errs, fmt.Errorf("inserts must be a fraction in [0, 1] (got %g)", c.Inserts))
	}
	switch c.Clients {
	case ClientsInProc:
	case ClientsProcess:
		if len(c.WorkerCmd) == 0 {
			errs = append(errs, errors.New("client process: no worker command"))
		}
	default:
		errs = append(errs, fmt.Errorf("clients must be %q or %q (got %q)", ClientsProcess, ClientsInProc, c.Clients))
	}
	return errors.Join(errs...)
}

// Report is what a run measured.
type Report struct {
	Config   Config `json:"-"`
	Postgres string `json:"postgres"`
	CPUs     int    `json:"cpus"`
	LoadAvg  string `json:"load_average"` // at the start, from /proc/loadavg

	ConnectTime, SubscribeTime time.Duration

	// Writes measured (after the warm-up), failed, and the rate achieved.
	Writes, WarmupWrites, FailedWrites int
	WriteRate                          float64
	WriteRTT                           Summary // the writer's statement, sent to COMMIT returned

	Floor        Summary // COMMIT returned → decoded by the bare consumer, one per write
	FloorMissing int
	Client       Summary // COMMIT returned → frame read by a client, one per item
	Added        Summary // client − floor for the same write, one per item

	ExpectedItems, Items, Frames int64 // measured writes only (Frames: all)
	BadItems                     int64
	Ended                        int // client connections that closed during the run
	EndedReason                  string
	SlowConsumers                int64

	// From the server's /metrics: mean time from receiving a transaction to
	// its frames queued, and from Postgres's commit timestamp to that.
	FanoutMean, CommitToQueuedMean time.Duration

	// Throughput mode: the backlog's writes took WriteTime; from the release
	// of the server's stream, every change was queued to the sessions after
	// ServerDrain and read by the clients after ClientDrain; the bare
	// consumer decoded them all in FloorDrain (from its first transaction).
	WriteTime, ServerDrain, ClientDrain, FloorDrain time.Duration
	Changes                                         int

	// Memory (live heap + goroutine stacks after GC) of the server's process.
	ServerBase, ServerConns, ServerSubs Mem
	// Memory of the client process (zero with in-process clients).
	ClientBase, ClientConns, ClientSubs Mem
}

// Run performs one benchmark run.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	raiseFileLimit()
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, "bench: "+format+"\n", args...) }
	rep = &Report{Config: cfg, CPUs: runtime.NumCPU(), LoadAvg: loadAvg()}

	// A scratch database, dropped at the end with its slots.
	dbName := pgdb.RandomName("ankurah_bench_")
	admin, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.Background())
	if err := admin.QueryRow(ctx, "show server_version").Scan(&rep.Postgres); err != nil {
		return nil, err
	}
	if err := pgdb.Create(ctx, admin, dbName, ""); err != nil {
		return nil, fmt.Errorf("scratch database: %w", err)
	}
	logf("scratch database %s", dbName)
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if derr := pgdb.Drop(dctx, admin, dbName, cfg.KeepDatabase); derr != nil && err == nil {
			err = derr
		}
	}()
	dbURL, err := pgdb.WithDatabase(cfg.DatabaseURL, dbName)
	if err != nil {
		return nil, err
	}
	if err := migrations.Apply(ctx, dbURL, nil); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}

	// The collection and one row per key.
	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `select ankurah.create_collection($1, '{"key":"bigint","payload":"text","owner":"text","tag":"text"}')`, Collection); err != nil {
		return nil, fmt.Errorf("create collection: %w", err)
	}
	if _, err := db.Exec(ctx, "create index on "+Collection+" (key)"); err != nil {
		return nil, err
	}
	rowIDs := make([]string, cfg.Keys)
	rows, err := db.Query(ctx, "insert into "+Collection+" (key, payload, owner, tag) select g, 'init', 'u' || (g / $2::bigint), "+tagSQL("g")+" from generate_series(0, $1::bigint - 1) g returning key, id", cfg.Keys, cfg.Subs)
	if err != nil {
		return nil, err
	}
	var key int64
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error { rowIDs[key] = id; return nil }); err != nil {
		return nil, fmt.Errorf("preload: %w", err)
	}

	// The server, in this process.
	srvLog := slog.New(slog.NewTextHandler(cfg.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srvPool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer srvPool.Close()
	backend, err := server.NewPostgres(postgres.New(srvPool, postgres.Options{}), replication.Config{
		DatabaseURL: dbURL, SlotName: dbName + "_server", Logger: srvLog})
	if err != nil {
		return nil, err
	}
	gated := &gatedBackend{PostgresBackend: backend}
	srvCfg := server.Config{Logger: srvLog}
	var tokens []string
	if cfg.Policy {
		if tokens, err = withPolicy(ctx, &srvCfg, cfg.Conns); err != nil {
			return nil, err
		}
	}
	srv, err := server.New(srvCfg, gated)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srvCtx, stopServer := context.WithCancel(ctx)
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(srvCtx, ln, 5*time.Second) }()
	defer func() {
		stopServer()
		if serr := <-srvDone; serr != nil && err == nil {
			err = fmt.Errorf("server: %w", serr)
		}
	}()
	if err := waitReady(ctx, backend.Ready(), srvDone); err != nil {
		return nil, err
	}
	wsURL := "ws://" + ln.Addr().String() + "/ws"

	// The plan: every write's key and kind, fixed before the run.
	interval := time.Second / time.Duration(cfg.Rate)
	warm := int(cfg.Warmup / interval)
	total := warm + int(cfg.Duration/interval)
	if cfg.Mode == ModeThroughput {
		warm, total = 0, cfg.Backlog
	}
	plan := newPlan(cfg, total)
	rep.WarmupWrites = warm
	floorSlot := dbName + "_floor"

	// The floor: a bare consumer with its own slot, timestamping each
	// transaction as its handler gets it.
	floorNs := make([]atomic.Int64, total)
	var floorSeen atomic.Int64
	// Kept when closed: in throughput mode the backlog piles up behind it.
	floor, err := replication.New(replication.Config{DatabaseURL: dbURL, SlotName: floorSlot, KeepSlot: true, Logger: srvLog},
		func(_ context.Context, tx *replication.Transaction) error {
			now := time.Now().UnixNano()
			for _, r := range tx.Rows {
				if r.Table != Collection {
					continue
				}
				if seq, ok := ParseMarker(r.New["payload"].Text()); ok && seq < int64(total) && floorNs[seq].CompareAndSwap(0, now) {
					floorSeen.Add(1)
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	floorDone := make(chan error, 1)
	go func() { floorDone <- floor.Run(ctx) }()
	defer floor.Close()
	if err := waitReady(ctx, floor.Ready(), floorDone); err != nil {
		return nil, fmt.Errorf("bare consumer: %w", err)
	}

	wcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	wcfg.MaxConns, wcfg.MinConns = int32(cfg.Writers), int32(cfg.Writers)
	writers, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		return nil, err
	}
	defer writers.Close()
	if err := writers.Ping(ctx); err != nil {
		return nil, err
	}

	// The clients.
	wk, err := startWorker(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := wk.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	base, err := wk.do(command{Op: "mem"})
	if err != nil {
		return nil, err
	}
	rep.ClientBase = base.Mem

	time.Sleep(200 * time.Millisecond) // let start-up garbage settle
	rep.ServerBase = ReadMem()
	logf("opening %d connections", cfg.Conns)
	r, err := wk.do(command{Op: "connect", URL: wsURL, Conns: cfg.Conns, Tokens: tokens})
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	rep.ConnectTime = msDuration(r.ElapsedMS)
	rep.ClientConns = r.Mem
	time.Sleep(500 * time.Millisecond) // handshakes done; let the sessions' goroutines park
	rep.ServerConns = ReadMem()

	logf("subscribing %d × %d", cfg.Conns, cfg.Subs)
	r, err = wk.do(command{Op: "subscribe", Subs: cfg.Subs, Keys: cfg.Keys, Collection: Collection, Predicate: cfg.Predicate})
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	rep.SubscribeTime = msDuration(r.ElapsedMS)
	rep.ClientSubs = r.Mem
	time.Sleep(200 * time.Millisecond)
	rep.ServerSubs = ReadMem()

	if cfg.Mode == ModeThroughput {
		// The floor's slot stays where it is (before the backlog) until
		// the bare consumer drains it after the server.
		floor.Close()
		return rep, drainBacklog(ctx, backlogRun{cfg: cfg, rep: rep, plan: plan, rowIDs: rowIDs, writers: writers,
			gate: gated, worker: wk, dbURL: dbURL, floorSlot: floorSlot, log: srvLog, logf: logf})
	}

	// The writes.
	if err := startProfile(cfg); err != nil {
		return nil, err
	}
	defer pprof.StopCPUProfile()
	logf("writing %d/s for %s (+%s warm-up) with %d writers", cfg.Rate, cfg.Duration, cfg.Warmup, cfg.Writers)
	commitNs := make([]int64, total)
	rtt := make([]int64, total)
	failed := make([]bool, total)
	var firstWriteErr atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now().Add(20 * time.Millisecond)
	var measuredFrom, lastCommit time.Time
	var lastMu sync.Mutex
	for w := range cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := w; seq < total; seq += cfg.Writers {
				if d := time.Until(start.Add(time.Duration(seq) * interval)); d > 0 {
					time.Sleep(d)
				}
				before := time.Now()
				err := plan.write(ctx, writers, rowIDs, seq)
				now := time.Now()
				if err != nil {
					failed[seq] = true
					firstWriteErr.CompareAndSwap(nil, &err)
					continue
				}
				commitNs[seq] = now.UnixNano()
				rtt[seq] = int64(now.Sub(before))
				if seq == warm {
					lastMu.Lock()
					measuredFrom = before
					lastMu.Unlock()
				}
				lastMu.Lock()
				if now.After(lastCommit) {
					lastCommit = now
				}
				lastMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// Everything delivered?
	var expected, committed int64
	for seq := range total {
		if failed[seq] {
			rep.FailedWrites++
			continue
		}
		committed++
		expected += int64(plan.subsPerKey[plan.key[seq]])
	}
	if p := firstWriteErr.Load(); p != nil {
		logf("%d writes failed; the first: %v", rep.FailedWrites, *p)
	}
	deadline := time.Now().Add(30 * time.Second)
	for floorSeen.Load() < committed && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling a counter, bounded by the deadline
	}
	if _, err := wk.do(command{Op: "wait", Items: expected, TimeoutMS: 30_000}); err != nil {
		return nil, err
	}
	r, err = wk.do(command{Op: "report"})
	if err != nil {
		return nil, err
	}
	metricsOf(ctx, ln.Addr().String(), rep)

	// The figures.
	if !measuredFrom.IsZero() && lastCommit.After(measuredFrom) {
		rep.WriteRate = float64(total-warm-countTrue(failed[warm:])) / lastCommit.Sub(measuredFrom).Seconds()
	}
	var rtts, floorLat []int64
	for seq := warm; seq < total; seq++ {
		if failed[seq] {
			continue
		}
		rep.Writes++
		rep.ExpectedItems += int64(plan.subsPerKey[plan.key[seq]])
		rtts = append(rtts, rtt[seq])
		if f := floorNs[seq].Load(); f != 0 {
			floorLat = append(floorLat, f-commitNs[seq])
		} else {
			rep.FloorMissing++
		}
	}
	var clientLat, added []int64
	for i, seq := range r.Seqs {
		if seq < int64(warm) || seq >= int64(total) || failed[seq] {
			continue
		}
		rep.Items++
		clientLat = append(clientLat, r.Times[i]-commitNs[seq])
		if f := floorNs[seq].Load(); f != 0 {
			added = append(added, r.Times[i]-f)
		}
	}
	rep.WriteRTT, rep.Floor, rep.Client, rep.Added = Summarize(rtts), Summarize(floorLat), Summarize(clientLat), Summarize(added)
	rep.Frames, rep.BadItems, rep.Ended, rep.EndedReason = r.Frames, r.BadItems, r.Ended, r.EndedReason
	return rep, nil
}

// plan fixes every write's key and kind, and counts each key's subscribers.
type plan struct {
	key        []int
	insert     []bool
	subsPerKey []int
	subs       int // subscriptions per connection: key k's owner is u<k/subs>
}

func newPlan(cfg Config, total int) *plan {
	p := &plan{key: make([]int, total), insert: make([]bool, total), subsPerKey: make([]int, cfg.Keys), subs: cfg.Subs}
	rng := mrand.New(mrand.NewPCG(cfg.Seed, 0x616e6b))
	for i := range total {
		p.key[i] = rng.IntN(cfg.Keys)
		p.insert[i] = rng.Float64() < cfg.Inserts
	}
	for i := range cfg.Conns {
		for j := range cfg.Subs {
			p.subsPerKey[SubKey(i, j, cfg.Subs, cfg.Keys)]++
		}
	}
	return p
}

// write makes write seq: one plain SQL statement, its own transaction.
func (p *plan) write(ctx context.Context, db *pgxpool.Pool, rowIDs []string, seq int) error {
	var err error
	if p.insert[seq] {
		_, err = db.Exec(ctx, "insert into "+Collection+" (key, payload, owner, tag) values ($1, $2, 'u' || ($1::bigint / $3::bigint), "+tagSQL("$1::bigint")+")", p.key[seq], Marker(int64(seq)), p.subs)
	} else {
		_, err = db.Exec(ctx, "update "+Collection+" set payload = $1 where id = $2", Marker(int64(seq)), rowIDs[p.key[seq]])
	}
	return err
}

func startProfile(cfg Config) error {
	if cfg.CPUProfile == nil {
		return nil
	}
	if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	return nil
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func waitReady(ctx context.Context, ready <-chan struct{}, done <-chan error) error {
	select {
	case <-ready:
		return nil
	case err := <-done:
		return fmt.Errorf("the change stream ended before it started: %v", err)
	case <-time.After(time.Minute):
		return errors.New("the change stream did not start within a minute")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// withPolicy gives a server token checks and the per-user rule of a policy
// run (see Config.Policy), and returns connection i's token (user u<i>).
func withPolicy(ctx context.Context, cfg *server.Config, conns int) ([]string, error) {
	secret := make([]byte, 48)
	if _, err := crand.Read(secret); err != nil {
		return nil, err
	}
	v, err := auth.NewVerifier(ctx, auth.TokenConfig{Secret: secret})
	if err != nil {
		return nil, err
	}
	rule := "owner = $jwt.sub"
	p, err := auth.CompilePolicy(auth.PolicyFile{DefaultRole: "user", Roles: map[string]auth.RoleRules{
		"user": {Collections: map[string]auth.CollectionRules{Collection: {Read: &rule}}}}})
	if err != nil {
		return nil, err
	}
	cfg.Tokens, cfg.Policy = v, auth.Static(p)
	exp := time.Now().Add(24 * time.Hour).Unix()
	tokens := make([]string, conns)
	for i := range tokens {
		if tokens[i], err = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u" + strconv.Itoa(i), "exp": exp}).SignedString(secret); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// tagSQL is the SQL of a row's tag from its key: 'k00000042-' (see Tag).
func tagSQL(key string) string { return "'k' || lpad(" + key + "::text, 8, '0') || '-'" }

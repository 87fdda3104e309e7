package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// session is one replication connection, from connecting to its end. Two
// goroutines share it: the receive loop (reads the stream, decodes, sends
// status updates) and the delivery goroutine (calls the handler, in order).
// The queue between them lets the receive loop keep answering the server
// while a handler is slow, so a slow handler does not get the connection
// killed by wal_sender_timeout.
type session struct {
	c    *Consumer
	conn *pgconn.PgConn
	dec  *decoder

	queue      chan *Transaction
	nextStatus time.Time
}

// runSession connects, prepares the slot and streams until the connection
// fails, the handler fails or ctx ends. It reports when streaming started
// (zero if it never did).
func (c *Consumer) runSession(ctx context.Context) (started time.Time, err error) {
	conn, err := pgconn.ConnectConfig(ctx, c.connConfig)
	if err != nil {
		return started, fmt.Errorf("replication: connecting: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()

	slot, err := prepare(ctx, conn, c.cfg)
	if err != nil {
		return started, err
	}
	if slot.created {
		c.log.Info("replication: created slot", "slot", c.cfg.SlotName, "consistent_point", slot.confirmedFlush.String())
	}
	c.mu.Lock()
	streamed := c.streamed
	c.mu.Unlock()
	if slot.created && (streamed || c.cfg.StartLSN != 0) {
		// Whatever committed between what was delivered and the new
		// slot's consistent point is gone from the stream.
		gap := Gap{Slot: c.cfg.SlotName, From: max(c.progress.position(), c.cfg.StartLSN), To: slot.confirmedFlush, Reason: "dropped"}
		if slot.invalidated {
			gap.Reason = "invalidated"
		}
		c.log.Warn("replication: the slot lost transactions (it was "+gap.Reason+"); streaming resumes from its new consistent point",
			"slot", gap.Slot, "from", gap.From.String(), "to", gap.To.String())
		if c.cfg.OnGap != nil {
			if err := c.cfg.OnGap(ctx, gap); err != nil {
				if ctx.Err() != nil {
					return started, ctx.Err()
				}
				return started, &HandlerError{EndLSN: gap.To, Err: fmt.Errorf("handling a gap in the stream: %w", err)}
			}
		}
	}
	from := c.progress.reset(max(slot.confirmedFlush, c.cfg.StartLSN))
	err = pglogrepl.StartReplication(ctx, conn, c.cfg.SlotName, pglogrepl.LSN(from), pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", c.cfg.Publication)},
	})
	if err != nil {
		return started, fmt.Errorf("replication: START_REPLICATION: %w", err)
	}
	started = time.Now()
	c.mu.Lock()
	c.streamed = true
	c.mu.Unlock()
	c.log.Info("replication: streaming", "slot", c.cfg.SlotName, "publication", c.cfg.Publication, "from", from.String())
	c.markReady()

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s := &session{c: c, conn: conn, dec: newDecoder(c.log), queue: make(chan *Transaction, c.cfg.MaxPending)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.deliver(sctx, cancel, s.queue, stop) })

	err = s.receive(sctx)
	// The in-flight handler call (if any) finishes; queued transactions are
	// dropped and will be streamed again from the acknowledged position.
	close(stop)
	wg.Wait()
	if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
		err = cause // the handler failed: that is the story, not the interrupted read
	}
	if !conn.IsClosed() {
		s.end()
	}
	return started, err
}

// end reports the final position, so that a restart resumes from it, and
// leaves COPY mode politely: the walsender releases the slot when
// START_REPLICATION completes, so once this returns the slot is inactive and
// can be taken over (by a restarted consumer, or dropped) without waiting for
// the server process to notice a closed socket. Failures are ignored: the
// server then keeps the position it had.
func (s *session) end() {
	if err := s.sendStatus(); err != nil {
		return
	}
	nc := s.conn.Conn()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := pglogrepl.SendStandbyCopyDone(context.Background(), s.conn); err != nil {
		s.c.log.Debug("replication: ending the stream", "err", err)
	}
	_ = nc.SetDeadline(time.Time{})
}

// receive is the receive loop: it reads until an error or ctx ends, sending
// a status update every StandbyTimeout and whenever the server asks.
//
// A read waits until the next status update is due or ctx ends. That is a
// read deadline on the socket, moved when the next update is scheduled,
// plus one watch on ctx that sets it to now — what pgx does for a context
// with a deadline, without a context and a watch per message (which cost
// as much as decoding the message).
func (s *session) receive(ctx context.Context) error {
	nc := s.conn.Conn()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) })
	defer stop()
	defer func() { _ = nc.SetReadDeadline(time.Time{}) }()
	s.nextStatus = time.Now()
	var deadline time.Time
	for {
		if !time.Now().Before(s.nextStatus) {
			if err := s.sendStatus(); err != nil {
				return err
			}
		}
		if !deadline.Equal(s.nextStatus) {
			deadline = s.nextStatus
			if err := nc.SetReadDeadline(deadline); err != nil {
				return fmt.Errorf("replication: setting the read deadline: %w", err)
			}
		}
		// Checked after moving the deadline: a ctx that ends from here on
		// sets it to now after this.
		if err := ctx.Err(); err != nil {
			return err
		}
		msg, err := s.conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue // time for a status update
			}
			return fmt.Errorf("replication: receiving: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if err := s.copyData(ctx, m.Data); err != nil {
				return err
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication: server: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyDone:
			return errors.New("replication: server ended the stream")
		default:
			// NoticeResponse, ParameterStatus: nothing to do.
		}
	}
}

// copyData handles one message of the replication stream.
func (s *session) copyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return errors.New("replication: empty CopyData message")
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("replication: keepalive: %w", err)
		}
		if !s.dec.inTransaction() {
			s.c.progress.idle(LSN(ka.ServerWALEnd))
		}
		if ka.ReplyRequested {
			s.nextStatus = time.Time{}
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("replication: XLogData: %w", err)
		}
		tx, err := s.dec.decode(xld.WALData)
		if err != nil {
			return err
		}
		if tx != nil && tx.EndLSN <= s.c.progress.position() {
			// Already handled: Postgres 15 can stream again transactions
			// confirmed before a restart or reconnect.
			return nil
		}
		if tx != nil {
			return s.enqueue(ctx, tx)
		}
	}
	return nil
}

// enqueue hands a transaction to the delivery goroutine. While the queue is
// full it keeps sending status updates, so the server sees a live client.
func (s *session) enqueue(ctx context.Context, tx *Transaction) error {
	s.c.progress.handed()
	select {
	case s.queue <- tx:
		return nil
	default:
	}
	for {
		timer := time.NewTimer(time.Until(s.nextStatus))
		select {
		case s.queue <- tx:
			timer.Stop()
			return nil
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
			if err := s.sendStatus(); err != nil {
				return err
			}
		}
	}
}

// sendStatus reports the acknowledged position as written, flushed and
// applied (for a logical slot only the flush position matters: it becomes
// confirmed_flush_lsn).
func (s *session) sendStatus() error {
	s.nextStatus = time.Now().Add(s.c.cfg.StandbyTimeout)
	pos := s.c.progress.position()
	if pos == 0 {
		return nil // nothing to report: pglogrepl would treat 0 as "unset"
	}
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(pos), WALFlushPosition: pglogrepl.LSN(pos), WALApplyPosition: pglogrepl.LSN(pos),
	})
	if err != nil {
		return fmt.Errorf("replication: sending status update: %w", err)
	}
	return nil
}

// deliver is the delivery goroutine: it calls the handler for each queued
// transaction, in order, and acknowledges it when the handler returns nil.
// On a handler error it cancels the session with a *HandlerError. It stops
// when stop is closed (after the call in progress) or ctx ends.
func (c *Consumer) deliver(ctx context.Context, fail context.CancelCauseFunc, queue <-chan *Transaction, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case tx := <-queue:
			select {
			case <-stop: // the session ended while both were ready
				return
			default:
			}
			if !tx.empty() {
				if err := c.handler(ctx, tx); err != nil {
					if ctx.Err() != nil {
						return // shutting down: the handler was interrupted, not wrong
					}
					herr := &HandlerError{XID: tx.XID, EndLSN: tx.EndLSN, Err: err}
					c.log.Error("replication: handler failed; stopping", "xid", tx.XID, "end_lsn", tx.EndLSN.String(), "err", err)
					fail(herr)
					return
				}
			}
			c.progress.done(tx.EndLSN)
		}
	}
}

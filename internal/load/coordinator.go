package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// workerClient speaks to a Worker: in a child process or in a goroutine.
type workerClient struct {
	enc   *json.Encoder
	dec   *json.Decoder
	stdin io.Closer
	wait  func() error
}

func startWorker(ctx context.Context, cfg Config) (*workerClient, error) {
	if cfg.Clients == ClientsInProc {
		cmdR, cmdW := io.Pipe()
		repR, repW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := Worker(context.WithoutCancel(ctx), cmdR, repW)
			repW.CloseWithError(err)
			cmdR.Close()
			done <- err
		}()
		return &workerClient{enc: json.NewEncoder(cmdW), dec: json.NewDecoder(repR), stdin: cmdW, wait: func() error { return <-done }}, nil
	}
	cmd := exec.Command(cfg.WorkerCmd[0], cfg.WorkerCmd[1:]...)
	cmd.Env = append(os.Environ(), cfg.WorkerEnv...)
	cmd.Stderr = cfg.Log
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the client process: %w", err)
	}
	return &workerClient{enc: json.NewEncoder(in), dec: json.NewDecoder(bufio.NewReaderSize(out, 1<<20)), stdin: in, wait: cmd.Wait}, nil
}

// do sends one command and returns the reply; a reply with an error is
// returned as an error too.
func (w *workerClient) do(cmd command) (reply, error) {
	var r reply
	if err := w.enc.Encode(cmd); err != nil {
		return r, fmt.Errorf("client process: %w", err)
	}
	if err := w.dec.Decode(&r); err != nil {
		return r, fmt.Errorf("client process: no reply to %s: %w", cmd.Op, err)
	}
	if r.Err != "" {
		return r, fmt.Errorf("client process: %s: %s", cmd.Op, r.Err)
	}
	return r, nil
}

// close closes the connections and ends the worker.
func (w *workerClient) close() error {
	_, err := w.do(command{Op: "close"})
	w.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- w.wait() }()
	select {
	case werr := <-done:
		return errors.Join(err, werr)
	case <-time.After(30 * time.Second):
		return errors.New("the client process did not end within 30s")
	}
}

// metricsOf reads the server's /metrics into the report.
func metricsOf(ctx context.Context, addr string, rep *Report) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	m := parseMetrics(resp.Body)
	rep.SlowConsumers = int64(m["ankurah_slow_consumer_disconnects_total"])
	mean := func(name string) time.Duration {
		if n := m[name+"_count"]; n > 0 {
			return time.Duration(m[name+"_sum"] / n * float64(time.Second))
		}
		return 0
	}
	rep.FanoutMean = mean("ankurah_fanout_seconds")
	rep.CommitToQueuedMean = mean("ankurah_commit_to_fanout_seconds")
}

// parseMetrics reads the unlabelled samples of a Prometheus text exposition.
func parseMetrics(r io.Reader) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			m[name] = v
		}
	}
	return m
}

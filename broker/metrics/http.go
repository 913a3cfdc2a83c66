package metrics

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/rs/zerolog"
)

// Server is the metrics HTTP listener: /metrics (Prometheus text format), /healthz (the
// process serves) and /readyz (ready reports nil: the broker has started and, in a cluster,
// is registered and knows a controller).
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen binds addr and serves until Close. /metrics is the registry in Prometheus' text
// format followed by what extra writes in the same format: families too large to build as
// metric objects on every scrape (one series per partition) are written directly.
func Listen(addr string, m *Metrics, ready func() error, extra func(w *bufio.Writer), logger zerolog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fams, err := m.Registry.Gather()
		if err != nil {
			logger.Warn().Err(err).Msg("gathering metrics")
		}
		format := expfmt.NewFormat(expfmt.TypeTextPlain)
		w.Header().Set("Content-Type", string(format))
		bw := bufio.NewWriterSize(w, 64<<10)
		enc := expfmt.NewEncoder(bw, format)
		for _, f := range fams {
			if err := enc.Encode(f); err != nil {
				return
			}
		}
		if extra != nil {
			extra(bw)
		}
		_ = bw.Flush()
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	s := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error().Err(err).Msg("metrics listener stopped")
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener, waiting for scrapes in flight up to ctx.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// TextFamily writes a gauge family's HELP and TYPE lines.
func TextFamily(w *bufio.Writer, name, help string) {
	w.WriteString("# HELP ")
	w.WriteString(name)
	w.WriteByte(' ')
	w.WriteString(help)
	w.WriteString("\n# TYPE ")
	w.WriteString(name)
	w.WriteString(" gauge\n")
}

// TextSample writes one sample with labels given as name, value pairs.
func TextSample(w *bufio.Writer, name string, value int64, labels ...string) {
	w.WriteString(name)
	if len(labels) > 0 {
		w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(labels[i])
			w.WriteString(`="`)
			writeEscaped(w, labels[i+1])
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	var buf [20]byte
	w.Write(strconv.AppendInt(buf[:0], value, 10))
	w.WriteByte('\n')
}

// writeEscaped writes a label value with Prometheus' escapes (backslash, quote, newline).
func writeEscaped(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			w.WriteString(`\\`)
		case '"':
			w.WriteString(`\"`)
		case '\n':
			w.WriteString(`\n`)
		default:
			w.WriteByte(c)
		}
	}
}

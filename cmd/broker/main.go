// Command broker runs one Kafka-compatible broker.
//
//	broker [server.properties] [--override key=value]...
//
// With no arguments it starts a single-node broker (broker.id 0) on 127.0.0.1:9092 with its
// data in ./data. Configuration uses Kafka's property names. A bad value exits with status 2;
// SIGINT or SIGTERM shuts the broker down cleanly. BROKER_PPROF=127.0.0.1:6060 (loopback
// addresses only; off by default) serves net/http/pprof there, for CPU and allocation profiles.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"kbroker/broker"
	"kbroker/broker/config"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	logger := newLogger()
	path, overrides, err := config.ParseArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "broker: %v\nusage: broker [server.properties] [--override key=value]...\n", err)
		return 2
	}
	cfg, warnings, err := config.Load(path, overrides)
	if err != nil {
		logger.Error().Err(err).Msg("invalid configuration")
		fmt.Fprintf(os.Stderr, "broker: %v\n", err)
		return 2
	}
	for _, w := range warnings {
		logger.Warn().Msg(string(w))
	}
	if lvl, err := zerolog.ParseLevel(os.Getenv("BROKER_LOG_LEVEL")); err == nil && lvl != zerolog.NoLevel {
		logger = logger.Level(lvl)
	}

	if addr := os.Getenv(pprofEnv); addr != "" {
		_, stopPprof, err := startPprof(addr, logger)
		if err != nil {
			fmt.Fprintf(os.Stderr, "broker: %v\n", err)
			return 2
		}
		defer stopPprof()
	}

	// Signals are caught from here on: one that arrives while the broker is still starting
	// (waiting for its previous registration to expire, loading logs) ends the start cleanly
	// instead of killing the process.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	srv := broker.New(cfg, logger)
	startCtx, cancelStart := context.WithTimeout(context.Background(), 5*time.Minute)
	started := make(chan error, 1)
	go func() { started <- srv.Start(startCtx) }()
	select {
	case err = <-started:
	case s := <-sig:
		logger.Info().Str("signal", s.String()).Msg("signal received while starting; stopping")
		cancelStart()
		if err := <-started; err == nil {
			select {
			case sig <- s: // started after all: shut down below
			default: // another signal is already waiting
			}
		} else {
			return 0 // Start released what it had opened
		}
	}
	cancelStart()
	if err != nil {
		logger.Error().Err(err).Msg("broker failed to start")
		fmt.Fprintf(os.Stderr, "broker: %v\n", err)
		return 1
	}

	s := <-sig
	logger.Info().Str("signal", s.String()).Msg("signal received")
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStop()
	if err := srv.Shutdown(stopCtx); err != nil {
		logger.Error().Err(err).Msg("shutdown incomplete")
		return 1
	}
	return 0
}

// newLogger writes JSON to stderr, or human-readable lines when stderr is a terminal.
func newLogger() zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	if isatty.IsTerminal(os.Stderr.Fd()) {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).With().Timestamp().Logger().Level(zerolog.InfoLevel)
	}
	return zerolog.New(os.Stderr).With().Timestamp().Logger().Level(zerolog.InfoLevel)
}

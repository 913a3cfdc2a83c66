package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(realMain(os.Args[1:]))
}

// realMain parses flags, runs the load and prints the report; it returns the
// exit status.
func realMain(args []string) int {
	c, err := ParseConfig(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kload: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()

	rep, err := run(ctx, c)
	if werr := rep.Write(os.Stdout, c.JSON); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kload: %v\n", err)
		return 1
	}
	if rep.Produce != nil && rep.Produce.Errors > 0 {
		return 1
	}
	return 0
}

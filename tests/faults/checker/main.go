// Command checker decides whether a JSON-lines history of znode operations
// recorded by the fault suite is linearizable.
//
// Exit status: 0 linearizable, 1 not linearizable (the visualization is
// written to -visualize), 2 bad input or usage, 3 the check hit -timeout.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/anishathalye/porcupine"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("checker", flag.ContinueOnError)
	flags.SetOutput(stderr)
	visualize := flags.String("visualize", "", "write porcupine's HTML visualization here when the history is not linearizable")
	timeout := flags.Duration("timeout", 0, "give up after this long (0: no limit); exit 3 when reached")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: checker [-visualize out.html] [-timeout 60s] history.jsonl|-")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil || flags.NArg() != 1 {
		flags.Usage()
		return 2
	}

	in := stdin
	if path := flags.Arg(0); path != "-" {
		file, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(stderr, "checker:", err)
			return 2
		}
		defer file.Close()
		in = file
	}
	ops, err := parseHistory(in)
	if err != nil {
		fmt.Fprintln(stderr, "checker: bad history:", err)
		return 2
	}

	start := time.Now()
	result, info := porcupine.CheckOperationsVerbose(znodeModel, ops, *timeout)
	elapsed := time.Since(start).Round(time.Millisecond)
	switch result {
	case porcupine.Ok:
		fmt.Fprintf(stdout, "linearizable: %d operations checked in %v\n", len(ops), elapsed)
		return 0
	case porcupine.Unknown:
		fmt.Fprintf(stdout, "inconclusive: check of %d operations timed out after %v\n", len(ops), elapsed)
		return 3
	}
	fmt.Fprintf(stdout, "NOT linearizable: %d operations checked in %v\n", len(ops), elapsed)
	if *visualize != "" {
		if err := porcupine.VisualizePath(znodeModel, info, *visualize); err != nil {
			fmt.Fprintln(stderr, "checker: writing visualization:", err)
		} else {
			fmt.Fprintln(stdout, "visualization:", *visualize)
		}
	}
	return 1
}

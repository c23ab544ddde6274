package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func check(t *testing.T, history string, extraArgs ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args := append(extraArgs, "-")
	code := run(args, strings.NewReader(history), &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// Two clients race on /a; the lost-connection set may or may not have
// happened, and the final read is explained by linearizing it last.
const linearizableHistory = `
{"client":0,"op":"create","key":"/a","value":"v1","result":"ok","call":0,"return":10}
{"client":1,"op":"create","key":"/a","value":"v2","result":"nodeexists","call":5,"return":15}
{"client":1,"op":"get","key":"/a","result":"ok","data":"v1","call":20,"return":25}
{"client":0,"op":"set","key":"/a","value":"v3","call":30,"return":null}
{"client":2,"op":"get","key":"/a","result":"ok","data":"v1","call":40,"return":45}
{"client":2,"op":"get","key":"/a","result":"ok","data":"v3","call":50,"return":55}
{"client":1,"op":"delete","key":"/b","result":"nonode","call":60,"return":65}
{"client":1,"op":"set","key":"/b","value":"x","result":"nonode","call":70,"return":75}
{"client":2,"op":"get","key":"/b","result":"nonode","call":80,"return":85}
{"client":3,"op":"set","key":"/a","value":"v4","result":"unknown","call":90,"return":95}
`

// An acknowledged set is followed by a read of the older value: a lost
// (or stale) write, which no order of the operations explains.
const staleReadHistory = `
{"client":0,"op":"create","key":"/a","value":"v1","result":"ok","call":0,"return":10}
{"client":0,"op":"set","key":"/a","value":"v2","result":"ok","call":20,"return":30}
{"client":1,"op":"get","key":"/a","result":"ok","data":"v1","call":40,"return":50}
`

func TestLinearizableHistoryPasses(t *testing.T) {
	code, out := check(t, linearizableHistory)
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, out)
	}
}

func TestStaleReadFailsAndIsVisualized(t *testing.T) {
	html := filepath.Join(t.TempDir(), "viz.html")
	code, out := check(t, staleReadHistory, "-visualize", html)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, out)
	}
	if info, err := os.Stat(html); err != nil || info.Size() == 0 {
		t.Fatalf("no visualization written: %v", err)
	}
}

func TestDeleteThenReadOfDeletedNodeFails(t *testing.T) {
	history := `
{"client":0,"op":"create","key":"/a","value":"v1","result":"ok","call":0,"return":10}
{"client":0,"op":"delete","key":"/a","result":"ok","call":20,"return":30}
{"client":1,"op":"create","key":"/a","value":"v2","result":"nodeexists","call":40,"return":50}
`
	if code, out := check(t, history); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, out)
	}
}

func TestBadInputExitsTwo(t *testing.T) {
	for name, history := range map[string]string{
		"not json":         "{",
		"unknown op":       `{"client":0,"op":"cas","key":"/a","result":"ok","call":0,"return":1}`,
		"bad result":       `{"client":0,"op":"get","key":"/a","result":"nodeexists","call":0,"return":1}`,
		"missing value":    `{"client":0,"op":"set","key":"/a","result":"ok","call":0,"return":1}`,
		"return < call":    `{"client":0,"op":"delete","key":"/a","result":"ok","call":5,"return":1}`,
		"ok without time":  `{"client":0,"op":"delete","key":"/a","result":"ok","call":5}`,
		"get without data": `{"client":0,"op":"get","key":"/a","result":"ok","call":0,"return":1}`,
	} {
		if code, out := check(t, history); code != 2 {
			t.Errorf("%s: exit %d, want 2: %s", name, code, out)
		}
	}
}

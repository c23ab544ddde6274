package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/anishathalye/porcupine"
)

// record is one line of the JSON-lines history written by the fault suite.
// Extra fields are allowed (the suite adds the server a client was using),
// so the file can carry debugging context without changing the checker.
type record struct {
	Client *int    `json:"client"`
	Op     string  `json:"op"`
	Key    string  `json:"key"`
	Value  *string `json:"value"`
	Result string  `json:"result"`
	Data   *string `json:"data"`
	Call   *int64  `json:"call"`
	Return *int64  `json:"return"`
}

// Result kinds. "unknown" means the client cannot tell whether the operation
// took effect (connection loss, timeout, session expired while in flight).
const (
	resultOK         = "ok"
	resultNodeExists = "nodeexists"
	resultNoNode     = "nonode"
	resultUnknown    = "unknown"
)

var allowedResults = map[string]map[string]bool{
	"create": {resultOK: true, resultNodeExists: true, resultUnknown: true},
	"set":    {resultOK: true, resultNoNode: true, resultUnknown: true},
	"get":    {resultOK: true, resultNoNode: true, resultUnknown: true},
	"delete": {resultOK: true, resultNoNode: true, resultUnknown: true},
}

// parseHistory turns the JSON-lines history into porcupine operations.
// Operations with an unknown outcome get a return time after every other
// event, because a write that may have been applied can be linearized at any
// point after its call, including "never" (after everything else).
// Reads with an unknown outcome say nothing about the state and are dropped.
func parseHistory(reader io.Reader) ([]porcupine.Operation, error) {
	scanner := bufio.NewScanner(reader)
	scanner.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	var records []record
	lineNo := 0
	for scanner.Scan() {
		lineNo++
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		var rec record
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %v", lineNo, err)
		}
		if err := validate(&rec); err != nil {
			return nil, fmt.Errorf("line %d: %v", lineNo, err)
		}
		records = append(records, rec)
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}

	var end int64
	for _, rec := range records {
		if *rec.Call > end {
			end = *rec.Call
		}
		if rec.Return != nil && *rec.Return > end {
			end = *rec.Return
		}
	}
	end++

	ops := make([]porcupine.Operation, 0, len(records))
	for _, rec := range records {
		in := input{Op: rec.Op, Key: rec.Key}
		if rec.Value != nil {
			in.Value = *rec.Value
		}
		out := output{Result: rec.Result}
		if rec.Data != nil {
			out.Data = *rec.Data
		}
		ret := end
		if rec.Return != nil {
			ret = *rec.Return
		} else if rec.Op == "get" {
			continue
		}
		ops = append(ops, porcupine.Operation{
			ClientId: *rec.Client,
			Input:    in,
			Call:     *rec.Call,
			Output:   out,
			Return:   ret,
		})
	}
	return ops, nil
}

func validate(rec *record) error {
	if rec.Client == nil || *rec.Client < 0 {
		return fmt.Errorf("missing or negative client")
	}
	results, ok := allowedResults[rec.Op]
	if !ok {
		return fmt.Errorf("unknown op %q", rec.Op)
	}
	if rec.Key == "" {
		return fmt.Errorf("missing key")
	}
	if rec.Call == nil {
		return fmt.Errorf("missing call time")
	}
	if rec.Return == nil {
		// An absent return time is the definition of an unknown outcome.
		if rec.Result != "" && rec.Result != resultUnknown {
			return fmt.Errorf("result %q without a return time", rec.Result)
		}
		rec.Result = resultUnknown
	} else {
		if *rec.Return < *rec.Call {
			return fmt.Errorf("return time before call time")
		}
		if rec.Result == resultUnknown {
			// The client gave up at this time; the effect may still happen later.
			rec.Return = nil
		}
	}
	if !results[rec.Result] {
		return fmt.Errorf("result %q is not valid for %s", rec.Result, rec.Op)
	}
	needsValue := rec.Op == "create" || rec.Op == "set"
	if needsValue && rec.Value == nil {
		return fmt.Errorf("%s needs a value", rec.Op)
	}
	if rec.Op == "get" && rec.Result == resultOK && rec.Data == nil {
		return fmt.Errorf("successful get needs data")
	}
	return nil
}

package main

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// input and output of one znode operation; the key is the znode path.
type input struct {
	Op    string
	Key   string
	Value string
}

type output struct {
	Result string
	Data   string
}

// znode is the per-key state: partitioning by key lets porcupine check each
// znode's sub-history on its own, which keeps long histories tractable.
type znode struct {
	Exists bool
	Data   string
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var order []string
	for _, op := range history {
		key := op.Input.(input).Key
		if _, seen := byKey[key]; !seen {
			order = append(order, key)
		}
		byKey[key] = append(byKey[key], op)
	}
	partitions := make([][]porcupine.Operation, 0, len(order))
	for _, key := range order {
		partitions = append(partitions, byKey[key])
	}
	return partitions
}

// step is the sequential specification of one znode. An unknown outcome
// accepts whatever the operation would have done: porcupine may linearize it
// at the end of the history, which models "never took effect".
func step(state interface{}, in interface{}, out interface{}) (bool, interface{}) {
	s := state.(znode)
	i := in.(input)
	o := out.(output)
	unknown := o.Result == resultUnknown
	switch i.Op {
	case "create":
		if !s.Exists {
			return unknown || o.Result == resultOK, znode{Exists: true, Data: i.Value}
		}
		return unknown || o.Result == resultNodeExists, s
	case "set":
		if s.Exists {
			return unknown || o.Result == resultOK, znode{Exists: true, Data: i.Value}
		}
		return unknown || o.Result == resultNoNode, s
	case "delete":
		if s.Exists {
			return unknown || o.Result == resultOK, znode{}
		}
		return unknown || o.Result == resultNoNode, s
	case "get":
		if s.Exists {
			return unknown || (o.Result == resultOK && o.Data == s.Data), s
		}
		return unknown || o.Result == resultNoNode, s
	}
	return false, s
}

func describeOperation(in interface{}, out interface{}) string {
	i := in.(input)
	o := out.(output)
	switch i.Op {
	case "create", "set":
		return fmt.Sprintf("%s(%s, %q) -> %s", i.Op, i.Key, i.Value, o.Result)
	case "get":
		if o.Result == resultOK {
			return fmt.Sprintf("get(%s) -> %q", i.Key, o.Data)
		}
		return fmt.Sprintf("get(%s) -> %s", i.Key, o.Result)
	}
	return fmt.Sprintf("%s(%s) -> %s", i.Op, i.Key, o.Result)
}

func describeState(state interface{}) string {
	s := state.(znode)
	if !s.Exists {
		return "(absent)"
	}
	return fmt.Sprintf("%q", s.Data)
}

var znodeModel = porcupine.Model{
	Partition:         partitionByKey,
	Init:              func() interface{} { return znode{} },
	Step:              step,
	Equal:             func(a, b interface{}) bool { return a.(znode) == b.(znode) },
	DescribeOperation: describeOperation,
	DescribeState:     describeState,
}

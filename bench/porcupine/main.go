// Runs Porcupine (github.com/anishathalye/porcupine, pinned in go.mod) on histories that
// bench/bench_consistency.py writes as JSON, so both checkers see the same operations.
// Prints one JSON line per history: the verdict and the best time of -repeat runs.
//
// Input: {"model": "cas-register"|"kv", "ops": [{"f", "key", "input", "output",
// "call", "ret", "status"}]}. An indeterminate operation returns at the end of time and
// accepts any output, as Porcupine's own tests model Jepsen's :info.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

type op struct {
	F      string          `json:"f"`
	Key    json.RawMessage `json:"key"`
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output"`
	Call   int64           `json:"call"`
	Ret    int64           `json:"ret"`
	Status string          `json:"status"`
}

type history struct {
	Model string `json:"model"`
	Ops   []op   `json:"ops"`
}

const nilValue = math.MinInt64

type in struct {
	f    string
	key  string
	a, b int64
	s    string
}

type out struct {
	unknown bool
	ok      bool
	value   int64
	s       string
}

func intOf(raw json.RawMessage) int64 {
	var v *int64
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v == nil {
		return nilValue
	}
	return *v
}

func strOf(raw json.RawMessage) string {
	var s *string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil || s == nil {
		return ""
	}
	return *s
}

// one register with compare-and-set; state nilValue is nil
var casRegister = porcupine.Model{
	Init: func() interface{} { return int64(nilValue) },
	Hash: func(state interface{}) uint64 { return uint64(state.(int64)) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int64)
		i := input.(in)
		o := output.(out)
		switch i.f {
		case "read":
			return o.unknown || o.value == st, st
		case "write":
			return true, i.a
		default: // cas
			hit := st == i.a
			next := st
			if hit {
				next = i.b
			}
			return o.unknown || o.ok == hit, next
		}
	},
}

// Porcupine's kv model: per key, get / put / append over strings, "" at first
var kv = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		m := map[string][]porcupine.Operation{}
		for _, o := range history {
			k := o.Input.(in).key
			m[k] = append(m[k], o)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var r [][]porcupine.Operation
		for _, k := range keys {
			r = append(r, m[k])
		}
		return r
	},
	Init: func() interface{} { return "" },
	Hash: func(state interface{}) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(string)
		i := input.(in)
		o := output.(out)
		switch i.f {
		case "get":
			return o.unknown || o.s == st, st
		case "put":
			return true, i.s
		default:
			return true, st + i.s
		}
	},
}

func main() {
	repeat := flag.Int("repeat", 3, "runs per history; the best time is reported")
	flag.Parse()
	for _, path := range flag.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var h history
		if err := json.Unmarshal(data, &h); err != nil {
			fmt.Fprintln(os.Stderr, path, err)
			os.Exit(2)
		}
		model := casRegister
		if h.Model == "kv" {
			model = kv
		}
		var ops []porcupine.Operation
		for n, o := range h.Ops {
			if o.Status == "fail" {
				continue
			}
			i := in{f: o.F, key: strOf(o.Key)}
			if h.Model == "kv" {
				i.s = strOf(o.Input)
			} else if o.F == "cas" {
				var pair []int64
				_ = json.Unmarshal(o.Input, &pair)
				i.a, i.b = pair[0], pair[1]
			} else {
				i.a = intOf(o.Input)
			}
			r := out{unknown: o.Status == "indeterminate", value: intOf(o.Output),
				s: strOf(o.Output)}
			if o.F == "cas" && !r.unknown {
				_ = json.Unmarshal(o.Output, &r.ok)
			}
			ret := o.Ret
			if r.unknown {
				ret = math.MaxInt64
			}
			ops = append(ops, porcupine.Operation{ClientId: n, Input: i, Call: o.Call,
				Output: r, Return: ret})
		}
		best := math.Inf(1)
		var ok bool
		for k := 0; k < *repeat; k++ {
			t := time.Now()
			ok = porcupine.CheckOperations(model, ops)
			if s := time.Since(t).Seconds(); s < best {
				best = s
			}
		}
		verdict := "violated"
		if ok {
			verdict = "satisfied"
		}
		line, _ := json.Marshal(map[string]interface{}{"history": path, "verdict": verdict,
			"seconds": best})
		fmt.Println(string(line))
	}
}

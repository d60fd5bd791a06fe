package rig

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// CPUByPart reads a CPU profile written by CPUProfile and sums its CPU time
// by the part of rdg that spent it, so that a run can say where its time
// went without a pprof session:
//
//   - the value of the pprof label rdg, which package stack sets on each
//     part it starts (broker, registry, store, api, job:<name>, writer) and
//     the benchmarks on their own goroutines (producer, probe); samples of
//     the writer whose stack is inside Pebble (the write path of Apply:
//     batch, WAL, memtable) count as "writer/pebble";
//   - "pebble:<kind>" for Pebble's background goroutines, which carry
//     Pebble's own label (compact, flush, ...) instead;
//   - "other" for the rest: the Go runtime's GC workers and scheduler.
func CPUByPart(path string) (map[string]time.Duration, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	p, err := parseProfile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cpu := -1
	for i, t := range p.sampleTypes {
		if p.str(t) == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return nil, fmt.Errorf("%s: not a CPU profile", path)
	}
	inPebble := map[uint64]bool{} // location id -> a frame in Pebble
	for id, fns := range p.locFuncs {
		for _, f := range fns {
			if strings.HasPrefix(p.str(p.funcNames[f]), "github.com/cockroachdb/pebble") {
				inPebble[id] = true
			}
		}
	}
	out := map[string]time.Duration{}
	for _, s := range p.samples {
		if cpu >= len(s.values) {
			continue
		}
		part := "other"
		var pebbleKind string
		for _, l := range s.labels {
			switch p.str(l[0]) {
			case "rdg":
				part = p.str(l[1])
			case "pebble":
				pebbleKind = p.str(l[1])
			}
		}
		if part == "other" && pebbleKind != "" {
			part = "pebble:" + pebbleKind
		}
		if part == "writer" {
			for _, loc := range s.locs {
				if inPebble[loc] {
					part = "writer/pebble"
					break
				}
			}
		}
		out[part] += time.Duration(s.values[cpu])
	}
	return out, nil
}

// profile is the part of a pprof profile (profile.proto) CPUByPart needs.
type profile struct {
	sampleTypes []int64 // string index of each value's type
	samples     []sample
	strings     []string
	locFuncs    map[uint64][]uint64 // location id -> function ids
	funcNames   map[uint64]int64    // function id -> string index
}

type sample struct {
	locs   []uint64
	values []int64
	labels [][2]int64 // key, str (string indexes)
}

func (p *profile) str(i int64) string {
	if i < 0 || int(i) >= len(p.strings) {
		return ""
	}
	return p.strings[i]
}

var errProfile = errors.New("malformed profile")

// fields calls fn for each field of the message b.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errProfile
		}
		b = b[n:]
		var v uint64
		var raw []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			raw, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errProfile
		}
		b = b[n:]
		if err := fn(num, typ, v, raw); err != nil {
			return err
		}
	}
	return nil
}

// varints appends a repeated integer field, packed or not.
func varints(dst []uint64, typ protowire.Type, v uint64, raw []byte) ([]uint64, error) {
	if typ == protowire.VarintType {
		return append(dst, v), nil
	}
	for len(raw) > 0 {
		x, n := protowire.ConsumeVarint(raw)
		if n < 0 {
			return dst, errProfile
		}
		dst = append(dst, x)
		raw = raw[n:]
	}
	return dst, nil
}

func parseProfile(b []byte) (*profile, error) {
	p := &profile{locFuncs: map[uint64][]uint64{}, funcNames: map[uint64]int64{}}
	err := fields(b, func(num protowire.Number, typ protowire.Type, _ uint64, raw []byte) error {
		switch num {
		case 1: // sample_type: ValueType{type = 1, unit = 2}
			var t int64
			if err := fields(raw, func(n protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				if n == 1 {
					t = int64(v)
				}
				return nil
			}); err != nil {
				return err
			}
			p.sampleTypes = append(p.sampleTypes, t)
		case 2: // sample: location_id = 1, value = 2, label = 3
			var s sample
			err := fields(raw, func(n protowire.Number, t protowire.Type, v uint64, r []byte) error {
				var err error
				switch n {
				case 1:
					s.locs, err = varints(s.locs, t, v, r)
				case 2:
					var vs []uint64
					vs, err = varints(nil, t, v, r)
					for _, x := range vs {
						s.values = append(s.values, int64(x))
					}
				case 3: // Label{key = 1, str = 2}
					var l [2]int64
					err = fields(r, func(n protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
						if n == 1 || n == 2 {
							l[n-1] = int64(v)
						}
						return nil
					})
					s.labels = append(s.labels, l)
				}
				return err
			})
			if err != nil {
				return err
			}
			p.samples = append(p.samples, s)
		case 4: // location: id = 1, line = 4 (Line{function_id = 1})
			var id uint64
			var fns []uint64
			err := fields(raw, func(n protowire.Number, _ protowire.Type, v uint64, r []byte) error {
				switch n {
				case 1:
					id = v
				case 4:
					return fields(r, func(n protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
						if n == 1 {
							fns = append(fns, v)
						}
						return nil
					})
				}
				return nil
			})
			if err != nil {
				return err
			}
			p.locFuncs[id] = fns
		case 5: // function: id = 1, name = 2
			var id uint64
			var name int64
			if err := fields(raw, func(n protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				switch n {
				case 1:
					id = v
				case 2:
					name = int64(v)
				}
				return nil
			}); err != nil {
				return err
			}
			p.funcNames[id] = name
		case 6: // string_table
			p.strings = append(p.strings, string(raw))
		}
		return nil
	})
	return p, err
}

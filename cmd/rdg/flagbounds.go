package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Numeric flags carry their allowed range as pflag annotations, and
// checkFlagBounds refuses a value outside it before any command runs. A
// value such as --partitions -1 or --rate -5 then fails at once, naming the
// flag, instead of reaching Kafka as an error far from its cause or being
// read as something else (any negative rate as -1, "as fast as possible").
const (
	annAtLeast = "rdg.at-least" // value >= bound
	annAbove   = "rdg.above"    // value > bound
	annAlso    = "rdg.also"     // exceptions allowed outside the range, e.g. -1
)

// atLeast requires the named flags of fs to be min or more.
func atLeast(fs *pflag.FlagSet, min float64, names ...string) {
	annotate(fs, annAtLeast, min, names)
}

// above requires the named flags of fs to be more than min; also lists
// values allowed besides (a documented sentinel such as -1).
func above(fs *pflag.FlagSet, min float64, also []float64, names ...string) {
	annotate(fs, annAbove, min, names)
	for _, v := range also {
		annotate(fs, annAlso, v, names)
	}
}

func annotate(fs *pflag.FlagSet, key string, v float64, names []string) {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			panic("flag bound for unknown flag --" + n)
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[key] = append(f.Annotations[key], strconv.FormatFloat(v, 'g', -1, 64))
	}
}

// checkFlagBounds checks every bounded flag of cmd (its own and inherited),
// set or defaulted.
func checkFlagBounds(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err == nil {
			err = checkBound(f)
		}
	})
	return err
}

func checkBound(f *pflag.Flag) error {
	if f.Annotations[annAtLeast] == nil && f.Annotations[annAbove] == nil {
		return nil
	}
	raw := f.Value.String()
	var v float64
	if f.Value.Type() == "duration" {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("--%s %s: %w", f.Name, raw, err)
		}
		v = d.Seconds()
	} else {
		var err error
		if v, err = strconv.ParseFloat(raw, 64); err != nil {
			return fmt.Errorf("--%s %s: not a number", f.Name, raw)
		}
	}
	also := annValues(f, annAlso)
	for _, a := range also {
		if v == a {
			return nil
		}
	}
	var want string
	for _, m := range annValues(f, annAtLeast) {
		if !(v >= m) {
			want = fmt.Sprintf("want %s or more", fmtBound(f, m))
		}
	}
	for _, m := range annValues(f, annAbove) {
		if !(v > m) {
			want = fmt.Sprintf("want more than %s", fmtBound(f, m))
		}
	}
	if want == "" {
		return nil
	}
	for _, a := range also {
		want += fmt.Sprintf(", or %s", fmtBound(f, a))
	}
	return fmt.Errorf("--%s %s: %s", f.Name, raw, want)
}

func annValues(f *pflag.Flag, key string) []float64 {
	var out []float64
	for _, s := range f.Annotations[key] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			panic("flag bound " + key + " of --" + f.Name + ": " + s)
		}
		out = append(out, v)
	}
	return out
}

// fmtBound prints a bound in the flag's own terms: 0s for a duration, -1
// for a number.
func fmtBound(f *pflag.Flag, v float64) string {
	if f.Value.Type() == "duration" {
		return time.Duration(v * float64(time.Second)).String()
	}
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', -1, 64), ".0")
}

package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the report as a table, one line per phase.
func (rep *Report) WriteTable(w io.Writer) error {
	mode := "in-process server"
	if !rep.InProcess {
		mode = "target server"
	}
	fmt.Fprintf(w, "payvault bench: %s, %s, concurrency %d, %gs per phase after %gs warm-up\n",
		rep.Engine, mode, rep.Concurrency, rep.Duration, rep.Warmup)
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s; load average %s before, %s after\n",
		rep.CPUs, rep.CPUModel, rep.GoVersion, fmtLoad(rep.LoadBefore), fmtLoad(rep.LoadAfter))
	if rep.SeedCards > 0 {
		fmt.Fprintf(w, "seeded cards: %d", rep.SeedCards)
		if rep.SeedRate > 0 {
			fmt.Fprintf(w, " (%.0f/s)", rep.SeedRate)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\treq/s\tof noop\tp50 ms\tp99 ms\tmax ms\terrors\tRSS MB\tCPU µs/req\twrites/commit\t")
	for _, p := range rep.Phases {
		wpc := "-"
		if p.WritesPerCommit > 0 {
			wpc = fmt.Sprintf("%.1f", p.WritesPerCommit)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f%%\t%.2f\t%.2f\t%.1f\t%d\t%.0f\t%.0f\t%s\t\n",
			p.Phase, p.Requests, p.RPS, 100*p.Ratio, p.P50, p.P99, p.Max, p.Errors, p.RSSMB, p.CPUPerReq, wpc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range rep.Phases {
		if p.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", p.Phase, p.FirstError)
		}
	}
	if rep.InProcess {
		fmt.Fprintln(w, "RSS and CPU are this process's: the server and the load generator together.")
	}
	return nil
}

// WriteJSON writes the report as one JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func fmtLoad(l []float64) string {
	var s []string
	for _, v := range l {
		s = append(s, fmt.Sprintf("%.2f", v))
	}
	return strings.Join(s, " ")
}

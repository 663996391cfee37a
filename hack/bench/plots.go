package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// figure is a plot written for the document: its file, relative to the
// document, and what it shows.
type figure struct {
	file, caption string
}

var (
	oursColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	baseColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	// engineColors tell the engines apart on the plan plot.
	engineColors = map[string]color.Color{
		"sqlite":   color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
		"postgres": oursColor,
		"mysql":    color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	}
)

// drawPlots writes the PNGs into dir: for each engine the writer's
// latency over time during the shadow-table change and during a plain
// ALTER TABLE, and the plan time against the table count.
func drawPlots(dir string, s sizes, r results, traces string) ([]figure, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var figs []figure
	for _, e := range engines[1:] {
		file := "writer-" + e.key + ".png"
		ok, err := writerPlot(filepath.Join(dir, file), e.name, s.rows, traces, e.key)
		if err != nil {
			return nil, err
		}
		if ok {
			figs = append(figs, figure{"performance/" + file, fmt.Sprintf(
				"%s: the writer's statements (200 a second) while a %s-row table changes, through a shadow table and with ALTER TABLE", e.name, thousands(s.rows))})
		}
	}
	ok, err := planPlot(filepath.Join(dir, "plan-tables.png"), s, r)
	if err != nil {
		return nil, err
	}
	if ok {
		figs = append(figs, figure{"performance/plan-tables.png", "Plan time against the number of tables: kube-shift's planner and Atlas's inspect + diff + plan"})
	}
	return figs, nil
}

func writerPlot(file, engine string, rows int, traces, key string) (bool, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Writer latency while %s rows change, %s", thousands(rows), engine)
	p.X.Label.Text = "seconds since the writer started"
	p.Y.Label.Text = "statement latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	found := false
	for _, way := range []struct {
		name, label string
		color       color.Color
	}{{"alter", "ALTER TABLE", baseColor}, {"shadow", "shadow table", oursColor}} {
		pts, err := readTrace(filepath.Join(traces, "writer-"+key+"-"+way.name+".csv"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, err
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return false, err
		}
		s.Color = way.color
		s.Radius = vg.Points(1.5)
		p.Add(s)
		p.Legend.Add(way.label, s)
		found = true
	}
	if !found {
		return false, nil
	}
	p.Add(plotter.NewGrid())
	return true, p.Save(8*vg.Inch, 4*vg.Inch, file)
}

// readTrace reads a writer trace: seconds, milliseconds per statement.
func readTrace(file string) (plotter.XYs, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var pts plotter.XYs
	for _, rec := range records[1:] {
		x, errX := strconv.ParseFloat(rec[0], 64)
		y, errY := strconv.ParseFloat(rec[1], 64)
		if errX != nil || errY != nil {
			return nil, fmt.Errorf("%s: %v is not two numbers", file, rec)
		}
		pts = append(pts, plotter.XY{X: x, Y: max(y, 0.01)})
	}
	return pts, nil
}

func planPlot(file string, s sizes, r results) (bool, error) {
	p := plot.New()
	p.Title.Text = "Plan time against table count"
	p.X.Label.Text = "tables (log scale)"
	p.Y.Label.Text = "ms per plan (log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	var ticks plot.ConstantTicks
	for _, n := range s.tables {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: thousands(n)})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks, plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	found := false
	for _, e := range engines {
		for _, side := range []struct {
			unit, label string
			dashed      bool
		}{{"ours-ms/op", "kube-shift", false}, {"atlas-ms/op", "Atlas", true}} {
			var pts plotter.XYs
			for _, n := range s.tables {
				if v, ok := r.get(fmt.Sprintf("BenchmarkPlanTables/tables=%d/%s", n, e.key), side.unit); ok {
					pts = append(pts, plotter.XY{X: float64(n), Y: v})
				}
			}
			if len(pts) == 0 {
				continue
			}
			l, pp, err := plotter.NewLinePoints(pts)
			if err != nil {
				return false, err
			}
			l.Color, pp.Color = engineColors[e.key], engineColors[e.key]
			if side.dashed {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(l, pp)
			p.Legend.Add(side.label+", "+e.name, l, pp)
			found = true
		}
	}
	if !found {
		return false, nil
	}
	p.Add(plotter.NewGrid())
	return true, p.Save(7*vg.Inch, 4.5*vg.Inch, file)
}

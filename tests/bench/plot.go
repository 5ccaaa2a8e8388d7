package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
)

// plot draws the medians as grouped bars, one group per case, each bar
// relative to the slowest runtime of its case (the cases differ by two
// orders of magnitude). Only the standard library: no fonts, so the
// report's text says what the colours are.
func (rp *report) plot(path string) error {
	const w, h, margin, barW, gap = 900, 360, 20, 30, 50
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill := func(x0, y0, x1, y1 int, c color.Color) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.Set(x, y, c)
			}
		}
	}
	fill(0, 0, w, h, color.White)
	colors := map[string]color.Color{
		"kan":  color.RGBA{0x1f, 0x77, 0xb4, 0xff},
		"runc": color.RGBA{0xff, 0x7f, 0x0e, 0xff},
		"crun": color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	}
	base := h - margin
	fill(margin, base, w-margin, base+1, color.Black)
	x := margin + gap/2
	for i, r := range rp.rows {
		var top int64
		for _, s := range r.stats {
			top = max(top, s.med)
		}
		if top == 0 {
			continue
		}
		for j, nm := range []string{"kan", "runc", "crun"} {
			bh := int(float64(h-2*margin) * float64(r.stats[nm].med) / float64(top))
			fill(x+j*barW, base-bh, x+(j+1)*barW-4, base, colors[nm])
		}
		if i == 0 && len(rp.floor) > 0 {
			st, _ := summarize(rp.floor)
			fy := base - int(float64(h-2*margin)*float64(st.med)/float64(top))
			fill(x-5, fy, x+3*barW+5, fy+2, color.Gray{0x80})
		}
		x += 3*barW + gap
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return png.Encode(f, img)
}

package proxy

import (
	"fmt"
	"net/url"
	"testing"
)

// BenchmarkRouteFind: finding a request's route costs as many map lookups as its
// path has segments, whether there is one route or a hundred.
func BenchmarkRouteFind(b *testing.B) {
	for _, n := range []int{1, 100} {
		list := []*Route{{Name: "root", Path: "/"}}
		for i := range n - 1 {
			list = append(list, &Route{Name: fmt.Sprint(i), Path: fmt.Sprintf("/app%02d", i)})
		}
		rs := newRoutes(list)
		u := &url.URL{Path: "/app57/some/page"}
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r, ok := rs.find("", u); r == nil || !ok {
					b.Fatal("no route")
				}
			}
		})
	}
}

package identity

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/hubgate/hubgate/internal/redistest"
	"github.com/hubgate/hubgate/provider"
)

// TestSharedEntryCarriesEveryUserField: an identity read from Redis is the one the
// provider gave, including the fields provider.User's own JSON leaves out. A field added to
// provider.User and not to sharedEntry fails here.
func TestSharedEntryCarriesEveryUserField(t *testing.T) {
	var u provider.User
	v := reflect.ValueOf(&u).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			f.SetString(v.Type().Field(i).Name + "-value")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{v.Type().Field(i).Name + "-1", "x"}))
		case reflect.Struct:
			if _, ok := f.Interface().(time.Time); !ok {
				t.Fatalf("User.%s: a struct, which this test does not know", v.Type().Field(i).Name)
			}
			f.Set(reflect.ValueOf(time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())))
		default:
			t.Fatalf("User.%s: a %s, which this test does not know", v.Type().Field(i).Name, f.Kind())
		}
	}
	srv := redistest.Start(t)
	a := NewCacheWith(stubLooker{&u}, CacheOptions{Size: 10, TTL: time.Minute, Timeout: time.Second, Redis: srv.Client()})
	b := NewCacheWith(stubLooker{nil}, CacheOptions{Size: 10, TTL: time.Minute, Timeout: time.Second, Redis: srv.Client()})
	if _, _, err := a.Lookup(context.Background(), "tok"); err != nil {
		t.Fatal(err)
	}
	got, hit, err := b.Lookup(context.Background(), "tok")
	if err != nil || !hit {
		t.Fatalf("hit %v, %v", hit, err)
	}
	if !reflect.DeepEqual(*got, u) {
		t.Errorf("read from Redis %+v, want %+v", *got, u)
	}
}

type stubLooker struct{ u *provider.User }

func (s stubLooker) Lookup(context.Context, string) (*provider.User, error) {
	if s.u == nil {
		panic("the provider was asked")
	}
	c := *s.u
	return &c, nil
}

// TestSealRefreshed: only the old refresh token opens a result, and only at the key
// it was stored at.
func TestSealRefreshed(t *testing.T) {
	sr := sharedRefresh{Access: "acc", Refresh: "ref", Type: "Bearer", Expiry: time.Now().Round(0).UTC()}
	sealed := sealRefreshed("old-refresh", "hubgate:refreshed:k1", sr)
	got, err := openRefreshed("old-refresh", "hubgate:refreshed:k1", sealed)
	if err != nil || got != sr {
		t.Fatalf("open = %+v, %v; want %+v", got, err, sr)
	}
	if _, err := openRefreshed("other-refresh", "hubgate:refreshed:k1", sealed); err == nil {
		t.Error("another refresh token opened the result")
	}
	if _, err := openRefreshed("old-refresh", "hubgate:refreshed:k2", sealed); err == nil {
		t.Error("the result opened at another key")
	}
	if sealRefreshed("old-refresh", "hubgate:refreshed:k1", sr) == sealed {
		t.Error("two seals of one result are equal: the nonce is not fresh")
	}
	if _, err := openRefreshed("old-refresh", "k", "short"); err == nil {
		t.Error("a short value opened")
	}
}

package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheck(t *testing.T) {
	for addr, ok := range map[string][3]bool{ // public only, loopback, private
		"93.184.215.14":    {true, true, true},
		"2606:4700::1111":  {true, true, true},
		"127.0.0.1":        {false, true, true},
		"::1":              {false, true, true},
		"::ffff:127.0.0.1": {false, true, true},
		"10.0.0.7":         {false, false, true},
		"::ffff:10.0.0.7":  {false, false, true},
		"192.168.1.1":      {false, false, true},
		"172.16.0.1":       {false, false, true},
		"fd00::1":          {false, false, true},
		"100.64.0.1":       {false, false, true},
		"169.254.169.254":  {false, false, true},
		"fe80::1":          {false, false, true},
		"0.0.0.0":          {false, false, false},
		"::":               {false, false, false},
		"224.0.0.1":        {false, false, false},
		"ff02::1":          {false, false, false},
	} {
		ip := netip.MustParseAddr(addr)
		for i, p := range []Policy{{}, {Loopback: true}, {Private: true}} {
			err := Check(ip, p)
			if (err == nil) != ok[i] {
				t.Errorf("%s under %+v: %v", addr, p, err)
			}
			if err != nil && !errors.Is(err, ErrRefused) {
				t.Errorf("%s: %v is not ErrRefused", addr, err)
			}
		}
	}
	if Check(netip.Addr{}, Policy{Private: true}) == nil {
		t.Error("the zero address was allowed")
	}
}

func TestControl(t *testing.T) {
	if err := (Policy{}).Control("tcp4", "93.184.215.14:443", nil); err != nil {
		t.Errorf("public address: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:443", "[::ffff:10.1.2.3]:443", "name:443", "garbage"} {
		if err := (Policy{}).Control("tcp", addr, nil); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if err := (Policy{Private: true}).Control("tcp", "10.1.2.3:80", nil); err != nil {
		t.Errorf("private allowed: %v", err)
	}
}

package microsofttest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
)

// Account is a user of the fake's directory, as AddAccount takes it. Users
// added with AddUser get the defaults.
type Account struct {
	// Email is the SMTP address (mail); the sign-in name too unless UPN is
	// set.
	Email string
	// UPN is the userPrincipalName, the sign-in name (alice@contoso.com, or
	// alice@contoso.onmicrosoft.com where it differs from the address).
	UPN string
	// DisplayName defaults to the local part of the address, capitalized.
	DisplayName string
	// Personal is a personal Microsoft account (outlook.com, hotmail.com,
	// live.com…: the default for those domains), in the consumers tenant:
	// Graph's /me gives it a short hex id and, as commonly observed, a null
	// mail (the address is only in userPrincipalName).
	Personal bool
	// TenantID is the work account's directory (tid). Default a GUID made
	// from the UPN's domain.
	TenantID string
	// TimeZone is the mailbox's time zone, a Windows name
	// (mailboxSettings). Default "UTC".
	TimeZone string
}

// ConsumersTenantID is the tenant of every personal Microsoft account.
const ConsumersTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"

// accounts holds the accounts added with AddAccount. Its lock is a leaf:
// nothing else is locked or called while it is held, so the identity
// platform's hooks (which run under oauthtest's lock) may read it.
type accounts struct {
	mu     sync.Mutex
	byName map[string]Account // by lower-case UPN and email
}

func newAccounts() *accounts { return &accounts{byName: map[string]Account{}} }

// AddAccount adds a user with its directory details; it can sign in with
// its UPN. Adding an existing account replaces its details.
func (s *Server) AddAccount(a Account) {
	a = withDefaults(a)
	s.accounts.mu.Lock()
	s.accounts.byName[lowerKey(a.UPN)] = a
	s.accounts.byName[lowerKey(a.Email)] = a
	s.accounts.mu.Unlock()
	s.AddUser(a.UPN)
}

// Account returns the directory details of a user (by sign-in name or
// address), the defaults for one added with AddUser.
func (s *Server) Account(name string) Account { return s.accounts.get(name) }

func (ac *accounts) get(name string) Account {
	ac.mu.Lock()
	a, ok := ac.byName[lowerKey(name)]
	ac.mu.Unlock()
	if ok {
		return a
	}
	return withDefaults(Account{Email: name})
}

// withDefaults completes an account.
func withDefaults(a Account) Account {
	if a.UPN == "" {
		a.UPN = a.Email
	}
	if a.Email == "" {
		a.Email = a.UPN
	}
	local, domain, _ := strings.Cut(lowerKey(a.UPN), "@")
	if !a.Personal && personalDomain(domain) {
		a.Personal = true
	}
	if a.DisplayName == "" {
		a.DisplayName = strings.ToUpper(local[:min(1, len(local))]) + local[min(1, len(local)):]
	}
	switch {
	case a.Personal:
		a.TenantID = ConsumersTenantID
	case a.TenantID == "":
		a.TenantID = guid("tenant " + domain)
	}
	if a.TimeZone == "" {
		a.TimeZone = "UTC"
	}
	return a
}

// personalDomain reports whether a domain is one of Microsoft's consumer
// mail domains (outlook.com, hotmail.de, live.co.uk…).
func personalDomain(domain string) bool {
	first, _, _ := strings.Cut(domain, ".")
	switch first {
	case "outlook", "hotmail", "live", "msn", "passport":
		return true
	}
	return false
}

// Domain is the domain of the account's UPN (a work account's tenant can
// be named by it).
func (a Account) Domain() string {
	_, d, _ := strings.Cut(lowerKey(a.UPN), "@")
	return d
}

// ObjectID is the oid claim: a GUID; for a personal account the one its
// 64-bit id is padded into.
func (a Account) ObjectID() string {
	if a.Personal {
		id := a.GraphID()
		return "00000000-0000-0000-" + id[:4] + "-" + id[4:]
	}
	return guid("oid " + lowerKey(a.UPN))
}

// GraphID is the user's id in Graph: the object id, or for a personal
// account 16 hex digits.
func (a Account) GraphID() string {
	if a.Personal {
		sum := sha256.Sum256([]byte("puid " + lowerKey(a.UPN)))
		return hex.EncodeToString(sum[:8])
	}
	return a.ObjectID()
}

// guid is a version-4-shaped GUID made from seed.
func guid(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	sum[6] = sum[6]&0x0f | 0x40
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

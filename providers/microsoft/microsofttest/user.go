package microsofttest

import (
	"net/http"
	"strings"
)

// The user (/me), the mailbox settings and the master list of categories.

func (s *Server) getMe(c *call) {
	sel, err := parseSelect(get(c.r.URL.Query(), "$select"), userSchema)
	if err != nil {
		c.queryFail(err)
		return
	}
	a := c.user
	given, surname, _ := strings.Cut(a.DisplayName, " ")
	var mail any = a.Email
	if a.Personal {
		mail = nil // commonly observed for personal accounts: the address is only the UPN
	}
	me := map[string]any{
		"@odata.context": c.s.GraphURL() + "/$metadata#users/$entity", "businessPhones": []string{}, "displayName": a.DisplayName,
		"givenName": given, "surname": surname, "jobTitle": nil, "mail": mail, "mobilePhone": nil, "officeLocation": nil,
		"preferredLanguage": nil, "userPrincipalName": a.UPN, "id": a.GraphID(),
	}
	if sel != nil {
		me["@odata.context"] = c.s.GraphURL() + "/$metadata#users(" + strings.Join(sel, ",") + ")/$entity"
	}
	c.ok(http.StatusOK, project(me, sel, nil))
}

var userSchema = &schema{typeName: "microsoft.graph.user", selectable: []string{"id", "displayName", "givenName", "surname",
	"mail", "userPrincipalName", "jobTitle", "mobilePhone", "officeLocation", "preferredLanguage", "businessPhones"}}

func (s *Server) getMailboxSettings(c *call) {
	s.graph.mu.Lock()
	mb := s.mailboxLocked(c.user.UPN)
	tz, wh := mb.timeZone, mb.workingHoursJSON()
	s.graph.mu.Unlock()
	c.ok(http.StatusOK, map[string]any{
		"@odata.context": c.context("mailboxSettings"), "timeZone": tz, "dateFormat": "yyyy-MM-dd", "timeFormat": "HH:mm",
		"delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
		"automaticRepliesSetting":               map[string]any{"status": "disabled", "externalAudience": "all"},
		"language":                              map[string]any{"locale": "en-US", "displayName": "English (United States)"},
		"workingHours":                          wh,
	})
}

func (s *Server) listCategories(c *call) {
	s.graph.mu.Lock()
	mb := s.mailboxLocked(c.user.UPN)
	var items []any
	for _, cat := range mb.categories {
		items = append(items, map[string]any{"id": guid("category " + mb.owner.UPN + cat.name), "displayName": cat.name, "color": cat.color})
	}
	s.graph.mu.Unlock()
	c.ok(http.StatusOK, map[string]any{"@odata.context": c.context("outlook/masterCategories"), "value": nonNil(items)})
}

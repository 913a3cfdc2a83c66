package broker

// DeleteGroups (key 42), versions 0-2.
//
//   - Only Empty groups are deleted (NON_EMPTY_GROUP otherwise; GROUP_ID_NOT_FOUND when
//     unknown): tombstones for the group metadata and every committed offset are appended
//     to __consumer_offsets before the answer.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDeleteGroups(rc *requestContext, req *kmsg.DeleteGroupsRequest) (kmsg.Response, error) {
	denied := rc.authorizeDeleteGroups(req)
	resp, err := s.groups.DeleteGroups(rc.ctx(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	if r := resp; r != nil {
		r.Groups = append(r.Groups, denied...)
	}
	return resp, nil
}

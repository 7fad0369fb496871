/*
 * The lock protocol with two overlapping reconfigurations contending (PROTOCOL.md, "Locking").
 *
 * A chain of NAGENTS agents, 0 = left endpoint, NAGENTS-1 = right endpoint. Subsession j runs from agent j to
 * agent j+1; its lock state (lockPending, locked, the requester, one held request) lives at agent j, its left end.
 * Request A: left anchor 0, right anchor 2 (replace MB1). Request B: left anchor 1, right anchor 3 (replace MB2).
 * They overlap on subsession 1. Control messages may be lost and duplicated; left anchors retransmit.
 *
 * Scenarios: CONTEND (both requests acceptable: exactly one is locked), CONTEND_FAIL (B wants a right anchor that
 * is not on the path, so B is refused and A, held behind it, must go on). Broken variant: BROKEN_REFUSE_PENDING
 * (a subsession that is lockPending for someone else refuses a request instead of holding it).
 */

#define NAGENTS 4
#define NREQ 2
#define NONE 255
#define A 0
#define B 1

#ifndef CTL_LOSS
#define CTL_LOSS 1
#endif
#ifndef CTL_DUP
#define CTL_DUP 1
#endif

#define UNDECIDED 0
#define SUCCESS 1
#define REFUSED 2

mtype = { REQUEST_LOCK, ACK_LOCK, NACK_LOCK };

chan ctl[NAGENTS] = [4] of { mtype, byte };   /* type, request */

byte leftOf[NREQ], rightOf[NREQ];
byte pend[NAGENTS], lockedBy[NAGENTS], held[NAGENTS];
byte outcome[NREQ];
byte ctlLost, ctlDuped;

inline ctlSend(to, t, r) {
  if
  :: ctlLost < CTL_LOSS -> ctlLost++
  :: ctlDuped < CTL_DUP -> ctlDuped++; ctl[to]!t(r); ctl[to]!t(r)
  :: ctl[to]!t(r)
  fi
}

inline decide(r, o) {
  if
  :: outcome[r] == UNDECIDED ->
     outcome[r] = o;
     if
     :: o == SUCCESS ->          /* every subsession of the segment is locked for r, by nobody else */
        k = leftOf[r];
        do :: k < rightOf[r] -> assert(lockedBy[k] == r); k++ :: else -> break od
     :: else -> skip
     fi
  :: else -> skip                /* a duplicate answer */
  fi
}

/* refuse r at agent j: toward its left anchor, or right here if j is it */
inline refuse(j, r) {
  if :: j == leftOf[r] -> decide(r, REFUSED) :: else -> ctlSend(j - 1, NACK_LOCK, r) fi
}

/* a requestLock for r at agent j (j is the left end of subsession j), whether it arrived or starts here */
inline request(j, r) {
  if
  :: j == rightOf[r] -> ctlSend(j - 1, ACK_LOCK, r)                /* the wanted right anchor (again, if a dup) */
  :: j != rightOf[r] && j == NAGENTS - 1 -> ctlSend(j - 1, NACK_LOCK, r)   /* the far endpoint, not the anchor */
  :: j != rightOf[r] && j < NAGENTS - 1 ->
     if
     :: pend[j] == r || lockedBy[j] == r -> ctlSend(j + 1, REQUEST_LOCK, r)   /* a retransmission: pass it on */
     :: pend[j] != r && lockedBy[j] != r && lockedBy[j] != NONE -> refuse(j, r)
     :: held[j] == r -> skip                                     /* already held here */
#ifdef BROKEN_REFUSE_PENDING
     :: pend[j] != r && pend[j] != NONE && lockedBy[j] == NONE && held[j] != r -> refuse(j, r)
#else
     :: pend[j] != r && pend[j] != NONE && lockedBy[j] == NONE && held[j] != r -> held[j] = r
#endif
     :: pend[j] == NONE && lockedBy[j] == NONE && held[j] != r -> pend[j] = r; ctlSend(j + 1, REQUEST_LOCK, r)
     fi
  fi
}

proctype Agent(byte j) {
  mtype t;
  byte r, h, k;
end_agent:
  do
  :: ctl[j]?t(r) ->
     if
     :: t == REQUEST_LOCK -> request(j, r)
     :: t == ACK_LOCK ->
        if
        :: pend[j] == r ->
           pend[j] = NONE;
           assert(lockedBy[j] == NONE);            /* locked segments never overlap */
           lockedBy[j] = r;
           if
           :: held[j] != NONE -> h = held[j]; held[j] = NONE; refuse(j, h)   /* its own succeeded: refuse the held one */
           :: else -> skip
           fi
        :: else -> skip
        fi;
        if
        :: lockedBy[j] == r && j == leftOf[r] -> decide(r, SUCCESS)
        :: lockedBy[j] == r && j != leftOf[r] -> ctlSend(j - 1, ACK_LOCK, r)
        :: else -> skip                            /* stale */
        fi
     :: t == NACK_LOCK ->
        if
        :: pend[j] == r ->
           pend[j] = NONE;
           if
           :: held[j] != NONE -> h = held[j]; held[j] = NONE; request(j, h)  /* its own failed: the held one goes on */
           :: else -> skip
           fi
        :: else -> skip
        fi;
        if
        :: j == leftOf[r] -> decide(r, REFUSED)
        :: else -> ctlSend(j - 1, NACK_LOCK, r)
        fi
     fi
  /* a left anchor starts its request at any moment, and retransmits it while it is unanswered */
  :: j == leftOf[A] && pend[j] != A && lockedBy[j] != A && held[j] != A && outcome[A] == UNDECIDED -> request(j, A)
  :: j == leftOf[B] && pend[j] != B && lockedBy[j] != B && held[j] != B && outcome[B] == UNDECIDED -> request(j, B)
  :: timeout && j == leftOf[A] && pend[j] == A && outcome[A] == UNDECIDED -> ctlSend(j + 1, REQUEST_LOCK, A)
  :: timeout && j == leftOf[B] && pend[j] == B && outcome[B] == UNDECIDED -> ctlSend(j + 1, REQUEST_LOCK, B)
  :: outcome[A] != UNDECIDED && outcome[B] != UNDECIDED -> break
  od
}

/* runs last: both requests are answered (or spin reports an invalid end state) and the outcome is the right one */
active proctype Verdict() {
  (outcome[A] != UNDECIDED && outcome[B] != UNDECIDED);
#ifdef CONTEND_FAIL
  assert(outcome[B] == REFUSED && outcome[A] == SUCCESS);   /* no acceptable request refused merely for contention */
#else
  assert(outcome[A] != outcome[B]);                          /* exactly one of two overlapping requests succeeds */
#endif
}

init {
  byte j;
  atomic {
    leftOf[A] = 0; rightOf[A] = 2;
    leftOf[B] = 1;
#ifdef CONTEND_FAIL
    rightOf[B] = 9;            /* not on this path: the far endpoint answers nackLock */
#else
    rightOf[B] = 3;
#endif
    j = 0;
    do
    :: j < NAGENTS -> pend[j] = NONE; lockedBy[j] = NONE; held[j] = NONE; j++
    :: else -> break
    od;
    j = 0;
    do
    :: j < NAGENTS -> run Agent(j); j++
    :: else -> break
    od
  }
}

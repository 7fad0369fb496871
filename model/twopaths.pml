/*
 * One live reconfiguration of one TCP session, with data flowing both ways (PROTOCOL.md, "Reconfiguration").
 *
 * Two Side processes: each is one end of the segment being replaced, i.e. the anchor's agent together with
 * everything behind it (an endpoint's TCP, or the rest of the chain, which to the segment is one ordered byte
 * stream with cumulative ACKs). The old segment's middleboxes are Hop processes that take part in the lock
 * protocol; their data forwarding is folded into the old path's FIFO channels (in order, shifting sequence numbers
 * by their delta). The new path is a pair of FIFO channels that carry the handshake (SYN, SYN-ACK, ACK) and then
 * data; its middleboxes shift sequence numbers by NEW_DF/NEW_DR, which the anchors learn from the handshake.
 *
 * Sequence numbers: every segment is one unit; side s sends units 0..NSEG-1 (the last one is its FIN) in its own
 * space. Channels carry numbers already in the receiving side's space, as the receiving anchor's host sees them.
 * Each unit carries its sender-space number as payload, so the receiver can check what it was given.
 *
 * Scenarios (pick one with -D): INSERT_TWO, DELETE_ONE, INSERT_RIGHT, REPLACE_ONE, DELETE_TWO, CONTROL_LOSS,
 * NEW_PATH_DOWN, SETUP_TIMEOUT, STATE_MOVE, STATE_FAIL. Deliberately broken variants: BROKEN_CUTOFF,
 * BROKEN_FIXED_OLDRCVD, BROKEN_ABANDON_ANSWERED, BROKEN_STATE_EARLY, BROKEN_REFUSE_EARLY_MOVE.
 */

#define WND 2           /* send window, units */
#define CAP 4           /* capacity of each path channel */
#define MAXRETRY 2      /* SYN retransmissions before the left anchor cancels */
#define NOACK 255       /* a new-path data packet that acknowledges nothing on that path yet */

/* ---- scenarios: old segment (NMID middleboxes, their deltas), new segment (net delta), what can go wrong ---- */
#if defined(INSERT_TWO)
#define NMID 0
#define NEW_DF 3
#define NEW_DR 1
#elif defined(DELETE_ONE)
#define NMID 1
#define RIGHT_REQUEST   /* the middlebox removes itself: it asks its left neighbour to run the reconfiguration */
#define NEW_DF 0
#define NEW_DR 0
#elif defined(INSERT_RIGHT)
/* the left anchor is MB1's agent; MB1 and everything left of it is the left Side */
#define NMID 0
#define NEW_DF 2
#define NEW_DR 0
#elif defined(REPLACE_ONE)
#define NMID 1
#define NEW_DF 1
#define NEW_DR 3
#elif defined(DELETE_TWO)
#define NMID 2
#define NEW_DF 0
#define NEW_DR 0
#elif defined(CONTROL_LOSS)
#define NMID 1
#define NEW_DF 1
#define NEW_DR 0
#define CTL_LOSS 1
#define CTL_DUP 1
#define DATA_LOSS 0     /* control loss and duplication only, */
#define NSEG 1          /* one unit (the FIN) each way: with two it is 40 M states (2.3 GB), with data loss too more */
#elif defined(NEW_PATH_DOWN)
#define NMID 1
#define NEW_DF 1
#define NEW_DR 0
#define NEW_PATH_DROPS  /* a middlebox on the new path is down: the new path carries nothing */
#elif defined(SETUP_TIMEOUT)
#define NMID 1
#define NEW_DF 1
#define NEW_DR 0
#define EARLY_SETUP_TIMER /* the left anchor's set-up timer may run out at any moment of SettingUp, the new path alive */
#elif defined(STATE_MOVE) || defined(STATE_FAIL)
/* one stateful middlebox replaced by another instance, its state of the session moved while the lock travels */
#define NMID 1
#define NEW_DF 0
#define NEW_DR 0
#define STATE_TRANSFER
#else
#error "pick a scenario: -DINSERT_TWO, -DDELETE_ONE, -DINSERT_RIGHT, -DREPLACE_ONE, -DDELETE_TWO, -DCONTROL_LOSS, -DNEW_PATH_DOWN, -DSETUP_TIMEOUT, -DSTATE_MOVE or -DSTATE_FAIL"
#endif

#ifndef NSEG
#define NSEG 3          /* units each side sends; the last is the FIN */
#endif
#ifndef CTL_LOSS
#define CTL_LOSS 0
#endif
#ifndef CTL_DUP
#define CTL_DUP 0
#endif
#ifndef DATA_LOSS
#define DATA_LOSS 1     /* data packets the network may lose in one run: makes TCP retransmit across the cutoff */
#endif

#define NNODES (NMID + 2)  /* control nodes: 0 = left anchor, 1..NMID = old middleboxes, NMID+1 = right anchor */
#define RIGHT (NMID + 1)

/* anchor states, as in PROTOCOL.md */
#define ONE_PATH   0
#define REQUESTING 1
#define REQUESTED  2
#define SETTING_UP 3
#define WAITING    4
#define TWO_PATHS  5
#define CANCELING  6
#define MOVING_STATE 7  /* the lock is in place; the new instance's word on the state is not */

mtype = { DATA, ACKONLY, SYN, SYNACK, HSACK, ANNOUNCE };                                  /* on a path */
mtype = { REQUEST_LOCK, ACK_LOCK, CANCEL_LOCK, ACK_CANCEL, RIGHT_REQUEST_MSG };           /* control */
mtype = { MOVE_STATE, STATE_CHUNK, STATE_RESULT, DROP_STATE };                          /* state transfer */

/* index = sending side: 0 = left to right, 1 = right to left. Fields: kind, seq, ack, payload */
chan oldPath[2] = [CAP] of { mtype, byte, byte, byte };
chan newPath[2] = [CAP] of { mtype, byte, byte, byte };
/* control inbox of each node: type, forward delta, reverse delta */
#define NEW_INSTANCE NNODES  /* the new middlebox instance's agent, which takes the state */
chan ctl[NNODES + 1] = [3] of { mtype, byte, byte };
/* state transfer: what the new instance holds of the session, and what the left anchor heard of it (0 nothing yet,
 * 1 in place, 2 refused) */
bool stateAtNew;
byte stateWord;

byte hopDf[NNODES];     /* what each old middlebox adds to the sequence numbers of each direction */
byte hopDr[NNODES];
byte oldD[2];           /* the old segment's true total per direction: index = sending side */
byte newD[2];

byte ctlLost, ctlDuped, dataLost;

/* the TCP behind each side, in that side's own space */
byte sndUna[2], sndNxt[2], rcvNxt[2];
/* each anchor */
byte st[2];
bool started[2], onNew[2], canceled[2];
bool hsDone;            /* the left anchor has the SYN-ACK and sent the handshake's ACK; it switches on ANNOUNCE */
/* The left anchor's control plane asked its datapath to give the new path up (the set-up timer ran out); the
 * datapath answers in a later step, and may have switched meanwhile. `abandoned`: it gave the path up;
 * `committed`: it kept it, the handshake being answered, and the left anchor waits for the switch. */
bool abandonAsked, abandoned, committed;
bool setupTimerFired;
byte oldSent[2], oldRcvd[2], oldAckSent[2], minNewRcvd[2], newSentMax[2];
byte learnedOld[4];     /* [side*2 + direction]: the old segment's delta as the lock messages reported it */
byte learnedNew[4];     /* same, for the new path, as the handshake reported it */
bool lockPending[NNODES], locked[NNODES];

#define RCV_BASE(s) oldD[1 - (s)]
#define TCP_DONE(s) (sndUna[s] == NSEG && rcvNxt[s] == RCV_BASE(s) + NSEG)
#define SETTLED(s) (onNew[s] || canceled[s])
#define ALL_DONE (TCP_DONE(0) && TCP_DONE(1) && SETTLED(0) && SETTLED(1))
#define OTHER(s) (1 - (s))

inline ctlSend(to, t, df, dr) {
  if
  :: ctlLost < CTL_LOSS -> ctlLost++
  :: ctlDuped < CTL_DUP -> ctlDuped++; ctl[to]!t(df, dr); ctl[to]!t(df, dr)
  :: ctl[to]!t(df, dr)
  fi
}

inline putOld(s, k, sq, ak) {
  if
  :: k == DATA && dataLost < DATA_LOSS -> dataLost++
  :: else -> oldPath[s]!k((sq) + oldD[s], (ak) - oldD[OTHER(s)], sq)
  fi
}

/* the sending anchor moves numbers by the old segment's delta (as the lock reported it); the new middleboxes add
 * theirs; the receiving anchor takes off what the handshake told it (see newPathIn) */
inline putNew(s, k, sq, ak) {
  if
  :: k == DATA && sq + 1 > newSentMax[s] -> newSentMax[s] = sq + 1
  :: else -> skip
  fi;
#ifdef NEW_PATH_DROPS
  skip
#else
  if
  :: k == DATA && dataLost < DATA_LOSS -> dataLost++
  :: else ->
     newPath[s]!k((sq) + learnedOld[s * 2 + s] + newD[s], (ak == NOACK -> NOACK : (ak) + learnedNew[s * 2 + OTHER(s)] - newD[OTHER(s)]), sq)
  fi
#endif
}

/* new-path handshake packets carry no stream position; the receiver learns the new path's delta from them */
inline putHandshake(s, k) {
#ifdef STATE_TRANSFER
  /* the new instance's firewall passes the session only with its state: the path opens only after the copy */
  assert(stateAtNew);
#endif
#ifdef NEW_PATH_DROPS
  skip
#else
  newPath[s]!k(newD[s], 0, 0)
#endif
}

inline oldAck(s, ak) {
  putOld(s, ACKONLY, 0, ak);
  if :: ak > oldAckSent[s] -> oldAckSent[s] = ak :: else -> skip fi
}

/*
 * The anchor routes what its host emits. One path: the path it is on. TwoPaths: data at or above oldSent goes on
 * the new path, below it on the old; an ACK above oldRcvd goes on the new path and the old path gets oldRcvd; a
 * packet whose data and ACK belong to different paths becomes two packets.
 */
inline emit(s, k, sq, ak) {
  if
  :: onNew[s] -> putNew(s, k, sq, ak)
  :: !onNew[s] && st[s] != TWO_PATHS ->
     putOld(s, k, sq, ak);
     if :: ak > oldAckSent[s] -> oldAckSent[s] = ak :: else -> skip fi
  :: !onNew[s] && st[s] == TWO_PATHS ->
     if
#ifdef BROKEN_CUTOFF
     :: k == DATA && sq > oldSent[s] ->
#else
     :: k == DATA && sq >= oldSent[s] ->
#endif
        if
        :: ak > oldRcvd[s] ->
           putNew(s, DATA, sq, ak);
           if :: oldAckSent[s] < oldRcvd[s] -> oldAck(s, oldRcvd[s]) :: else -> skip fi
        :: else ->
           putNew(s, DATA, sq, NOACK);
           oldAck(s, ak)
        fi
     :: k == DATA && sq < oldSent[s] ->
        if
        :: ak > oldRcvd[s] ->
           putOld(s, DATA, sq, oldRcvd[s]);
           if :: oldRcvd[s] > oldAckSent[s] -> oldAckSent[s] = oldRcvd[s] :: else -> skip fi;
           putNew(s, ACKONLY, 0, ak)
        :: else -> putOld(s, DATA, sq, ak);
           if :: ak > oldAckSent[s] -> oldAckSent[s] = ak :: else -> skip fi
        fi
#ifdef BROKEN_CUTOFF
     :: k == DATA && sq == oldSent[s] -> putOld(s, DATA, sq, ak)  /* the first new unit goes on the old path */
#endif
     :: k == ACKONLY && ak > oldRcvd[s] ->
        putNew(s, ACKONLY, 0, ak);
        if :: oldAckSent[s] < oldRcvd[s] -> oldAck(s, oldRcvd[s]) :: else -> skip fi
     :: k == ACKONLY && ak <= oldRcvd[s] -> oldAck(s, ak)
     fi
  fi
}

/* The instant the anchor enters TwoPaths: the cutoffs. Everything its host has sent so far went on the old path. */
inline enterTwoPaths(s) {
  oldSent[s] = sndNxt[s];
  newSentMax[s] = sndNxt[s];
  st[s] = TWO_PATHS
}

/* The old path is finished: all sent on it acked, all received on it acked, and its last unit is known to be its
 * last (the new path's first unit follows it, or the FIN came on it). Then one path again, on the new one. */
inline checkCompletion(s) {
  if
  :: st[s] == TWO_PATHS && sndUna[s] >= oldSent[s] && rcvNxt[s] >= oldRcvd[s] && (minNewRcvd[s] == oldRcvd[s] || oldRcvd[s] == RCV_BASE(s) + NSEG) ->
     onNew[s] = true; st[s] = ONE_PATH
  :: else -> skip
  fi
}

/* the TCP behind the side takes a packet in its own space */
inline hostReceive(s, k, sq, ak, pl) {
  if
  :: ak != NOACK ->
     assert(ak <= sndNxt[s]);          /* never an ACK for data this side did not send */
     if :: ak > sndUna[s] -> sndUna[s] = ak :: else -> skip fi
  :: else -> skip
  fi;
  if
  :: k == DATA ->
     assert(sq >= RCV_BASE(s) && sq < RCV_BASE(s) + NSEG && sq - RCV_BASE(s) == pl);  /* the unit it was sent as */
     if :: sq == rcvNxt[s] -> rcvNxt[s]++ :: else -> skip fi;  /* in order, once; a duplicate is not delivered */
     emit(s, ACKONLY, 0, rcvNxt[s])
  :: else -> skip
  fi
}

proctype Side(byte s) {
  mtype k;
  byte sq, ak, pl, df, dr, retries;
  byte me = (s == 0 -> 0 : RIGHT);

  do
  /* the TCP behind the side sends new data when its window allows */
  :: sndNxt[s] < NSEG && sndNxt[s] - sndUna[s] < WND ->
     sq = sndNxt[s]; sndNxt[s]++;
     emit(s, DATA, sq, rcvNxt[s])

  /* ---- old path in ---- */
  :: oldPath[OTHER(s)]?k(sq, ak, pl) ->
     if :: k == DATA && sq + 1 > oldRcvd[s] ->
#ifdef BROKEN_FIXED_OLDRCVD
          if :: st[s] != TWO_PATHS && !onNew[s] -> oldRcvd[s] = sq + 1 :: else -> skip fi
#else
          oldRcvd[s] = sq + 1
#endif
     :: else -> skip fi;
     /* the old path's peer never acknowledges what was not sent on the old path */
     assert(ak == NOACK || ak <= ((st[s] == TWO_PATHS || onNew[s]) -> oldSent[s] : sndNxt[s]));
     hostReceive(s, k, sq, ak, pl);
     checkCompletion(s)

  /* ---- new path in ---- */
  :: newPath[OTHER(s)]?k(sq, ak, pl) ->
     if
     :: k == SYN ->                                  /* right anchor */
        if
        :: st[s] == REQUESTED || st[s] == WAITING ->
           learnedNew[s * 2 + 0] = sq;
           putHandshake(s, SYNACK); st[s] = WAITING
        :: else -> skip                              /* stale */
        fi
     :: k == SYNACK ->                               /* left anchor: the handshake's ACK; the switch waits */
        if
        :: st[s] == SETTING_UP ->
           learnedNew[s * 2 + 1] = sq; hsDone = true; putHandshake(s, HSACK)
        :: st[s] == TWO_PATHS || onNew[s] -> skip
        :: else -> skip
        fi
     :: k == HSACK ->                                /* right anchor: switches, announces */
        if
        :: st[s] == WAITING -> enterTwoPaths(s); putHandshake(s, ANNOUNCE); checkCompletion(s)
        :: st[s] == TWO_PATHS || onNew[s] -> putHandshake(s, ANNOUNCE)  /* our announcement was lost */
        :: else -> skip
        fi
     :: k == ANNOUNCE ->                             /* left anchor: the right anchor is there; switch */
        if :: st[s] == SETTING_UP && hsDone -> enterTwoPaths(s); checkCompletion(s) :: else -> skip fi
     :: k == DATA || k == ACKONLY ->
        /* a new path this anchor gave up carries nothing to it: the far anchor never switched to it */
        assert(s == 1 || !abandoned);
        if :: st[s] == WAITING -> enterTwoPaths(s) :: else -> skip fi;  /* data also completes the handshake */
        sq = sq - learnedNew[s * 2 + OTHER(s)];
        if :: ak != NOACK -> ak = ak - learnedOld[s * 2 + s] :: else -> skip fi;
        assert(st[s] == TWO_PATHS || onNew[s]);
        /* the new path's peer only acknowledges what was sent on the new path */
        assert(ak == NOACK || (ak >= oldSent[s] && ak <= newSentMax[s]));
        if :: k == DATA && sq < minNewRcvd[s] -> minNewRcvd[s] = sq :: else -> skip fi;
        hostReceive(s, k, sq, ak, pl);
        checkCompletion(s)
     fi

  /* ---- control in ---- */
  :: ctl[me]?k(df, dr) ->
     if
     :: s == 0 && k == RIGHT_REQUEST_MSG && !started[0] ->
        started[0] = true; st[0] = REQUESTING; ctlSend(1, REQUEST_LOCK, 0, 0)
     :: s == 0 && k == ACK_LOCK && st[0] == REQUESTING ->
        learnedOld[0] = df; learnedOld[1] = dr;
        assert(df == oldD[0] && dr == oldD[1]);   /* the delta accumulated hop by hop is the segment's */
#ifdef STATE_TRANSFER
        if
        :: stateWord == 1 -> retries = 0; st[0] = SETTING_UP; putHandshake(0, SYN)
        :: stateWord == 2 -> st[0] = CANCELING; ctlSend(1, CANCEL_LOCK, 0, 0)
#ifdef BROKEN_STATE_EARLY
        :: stateWord == 0 -> retries = 0; st[0] = SETTING_UP; putHandshake(0, SYN)   /* opens without the state */
#else
        :: stateWord == 0 -> st[0] = MOVING_STATE
#endif
        fi
#else
        retries = 0; st[0] = SETTING_UP; putHandshake(0, SYN)
#endif
     :: s == 0 && k == STATE_RESULT && stateWord == 0 ->
        stateWord = df;
        if
        :: st[0] == MOVING_STATE && df == 1 -> retries = 0; st[0] = SETTING_UP; putHandshake(0, SYN)
        :: st[0] == MOVING_STATE && df == 2 -> st[0] = CANCELING; ctlSend(1, CANCEL_LOCK, 0, 0)
        :: else -> skip                             /* before the lock's answer: kept for it */
        fi
     :: s == 0 && k == ACK_CANCEL && st[0] == CANCELING ->
        st[0] = ONE_PATH; canceled[0] = true; abandoned = true;  /* the right anchor never switched: give it up */
#ifdef STATE_TRANSFER
        ctl[NEW_INSTANCE]!DROP_STATE(0, 0)
#else
        skip
#endif
     :: s == 0 && k == ACK_CANCEL -> assert(st[0] != TWO_PATHS && !onNew[0])   /* a duplicate, never a contradiction */
     :: s == 1 && k == REQUEST_LOCK && st[1] == ONE_PATH && !started[1] ->
        learnedOld[2] = df; learnedOld[3] = dr;
        assert(df == oldD[0] && dr == oldD[1]);
        started[1] = true; st[1] = REQUESTED; ctlSend(NMID, ACK_LOCK, 0, 0)
     :: s == 1 && k == REQUEST_LOCK && (st[1] == REQUESTED || st[1] == WAITING) ->
        ctlSend(NMID, ACK_LOCK, 0, 0)              /* a retransmission: our ACK may be lost */
     :: s == 1 && k == CANCEL_LOCK ->
        assert(st[1] != TWO_PATHS && !onNew[1]);   /* the left anchor cancels only before the right's TwoPaths */
        st[1] = ONE_PATH; canceled[1] = true; ctlSend(NMID, ACK_CANCEL, 0, 0)
     :: else -> skip                                /* duplicate or stale: ignored */
     fi

  /* ---- the left anchor starts the reconfiguration at any moment (unless a middlebox asks for it) ---- */
#ifndef RIGHT_REQUEST
  :: s == 0 && !started[0] ->
     started[0] = true; st[0] = REQUESTING;
#ifdef STATE_TRANSFER
     /* moveState follows requestLock on the same hop; a datagram lost and sent again can swap them */
     if
     :: ctlSend(1, REQUEST_LOCK, 0, 0); ctl[1]!MOVE_STATE(0, 0)
     :: ctl[1]!MOVE_STATE(0, 0); ctlSend(1, REQUEST_LOCK, 0, 0)
     fi
#else
     ctlSend(1, REQUEST_LOCK, 0, 0)
#endif
#endif

  /* ---- retransmission timers: only when nothing else can happen ---- */
  :: timeout && sndUna[s] < sndNxt[s] -> emit(s, DATA, sndUna[s], rcvNxt[s])
  :: timeout && s == 0 && st[0] == REQUESTING -> ctlSend(1, REQUEST_LOCK, 0, 0)
  :: timeout && s == 0 && st[0] == SETTING_UP && !hsDone && retries < MAXRETRY -> retries++; putHandshake(0, SYN)
  :: timeout && s == 0 && st[0] == SETTING_UP && hsDone && retries < MAXRETRY -> retries++; putHandshake(0, HSACK)
  :: timeout && s == 0 && st[0] == SETTING_UP && retries == MAXRETRY && !abandonAsked && !committed -> abandonAsked = true
#ifdef EARLY_SETUP_TIMER
  :: s == 0 && st[0] == SETTING_UP && !setupTimerFired && !abandonAsked -> setupTimerFired = true; abandonAsked = true
#endif
  /* The datapath's answer to the abandon. Before the SYN-ACK it gives the path up, and the locks are undone. After it
   * the right anchor may have switched on our handshake ACK: the path stays (committed), and its announcement comes. */
  :: s == 0 && abandonAsked ->
     abandonAsked = false;
     if
     :: st[0] == SETTING_UP && !hsDone -> abandoned = true; st[0] = CANCELING; ctlSend(1, CANCEL_LOCK, 0, 0)
#ifdef BROKEN_ABANDON_ANSWERED
     :: st[0] == SETTING_UP && hsDone -> abandoned = true; st[0] = CANCELING; ctlSend(1, CANCEL_LOCK, 0, 0)
#else
     :: st[0] == SETTING_UP && hsDone -> committed = true
#endif
     :: else -> skip                                 /* it switched first: in use, the run goes on */
     fi
  :: timeout && s == 0 && st[0] == CANCELING -> ctlSend(1, CANCEL_LOCK, 0, 0)
  :: timeout && s == 1 && st[1] == WAITING -> putHandshake(1, SYNACK)

  :: ALL_DONE -> break
  od;
  assert(TCP_DONE(s));
#ifdef NEW_PATH_DROPS
  assert(canceled[s] && !onNew[s]);   /* the session carries on, unchanged, on the old path */
#elif defined(SETUP_TIMEOUT)
  assert(onNew[s] != canceled[s] && onNew[s] == onNew[OTHER(s)]);   /* both moved, or both stayed */
#elif defined(STATE_FAIL)
  assert(canceled[s] && !onNew[s]);   /* the state did not move, so neither did the session */
#else
  assert(onNew[s] && !canceled[s]);
#endif
}

/* An agent of the old segment: the left end of one subsession, with its lock state; forwards control hop by hop. */
proctype Hop(byte i) {
  mtype k;
  byte df, dr;
  bool asked;
  bool earlyMove;   /* a moveState that came before its requestLock, held for it */
end_hop:
  do
  :: ctl[i]?k(df, dr) ->
     if
     :: k == REQUEST_LOCK ->
        if :: !locked[i] -> lockPending[i] = true :: else -> skip fi;
        ctlSend(i + 1, REQUEST_LOCK, df + hopDf[i], dr + hopDr[i]);
        if :: earlyMove -> earlyMove = false; ctl[NEW_INSTANCE]!STATE_CHUNK(0, 0) :: else -> skip fi
     :: k == ACK_LOCK ->
        lockPending[i] = false; locked[i] = true;
        ctlSend(i - 1, ACK_LOCK, df + hopDf[i], dr + hopDr[i])
     :: k == CANCEL_LOCK -> ctlSend(i + 1, CANCEL_LOCK, 0, 0)
     /* the old instance sends its state only for the request its lock holds; one that overtook its requestLock
      * waits for it */
     :: k == MOVE_STATE && (lockPending[i] || locked[i]) -> ctl[NEW_INSTANCE]!STATE_CHUNK(0, 0)
#ifdef BROKEN_REFUSE_EARLY_MOVE
     :: k == MOVE_STATE && !lockPending[i] && !locked[i] -> ctl[0]!STATE_RESULT(2, 0)   /* as the code did */
#else
     :: k == MOVE_STATE && !lockPending[i] && !locked[i] -> earlyMove = true
#endif
     :: k == ACK_CANCEL -> lockPending[i] = false; locked[i] = false; ctlSend(i - 1, ACK_CANCEL, 0, 0)
     :: else -> skip
     fi
#ifdef RIGHT_REQUEST
  :: i == 1 && !asked -> asked = true; ctlSend(0, RIGHT_REQUEST_MSG, 0, 0)
  :: i == 1 && asked && timeout && !started[0] -> ctlSend(0, RIGHT_REQUEST_MSG, 0, 0)
#endif
  od
}

/* The new middlebox instance's agent: imports the state it is sent (or, in STATE_FAIL, refuses it), answers the
 * left anchor, and forgets it when told the run was canceled. */
proctype NewInstance() {
  mtype k;
  byte df, dr;
end_new:
  do
  :: ctl[NEW_INSTANCE]?k(df, dr) ->
     if
#ifdef STATE_FAIL
     :: k == STATE_CHUNK -> ctl[0]!STATE_RESULT(2, 0)
#else
     :: k == STATE_CHUNK -> stateAtNew = true; ctl[0]!STATE_RESULT(1, 0)
#endif
     :: k == DROP_STATE -> stateAtNew = false
     :: else -> skip
     fi
  od
}

init {
  byte i;
  atomic {
    /* the old middleboxes' deltas: a proxy and a box that changed the stream's length */
    i = 1;
    do
    :: i <= NMID -> hopDf[i] = i; hopDr[i] = 2 * i - 1; oldD[0] = oldD[0] + hopDf[i]; oldD[1] = oldD[1] + hopDr[i]; i++
    :: else -> break
    od;
    newD[0] = NEW_DF; newD[1] = NEW_DR;
    rcvNxt[0] = oldD[1]; rcvNxt[1] = oldD[0];
    oldRcvd[0] = oldD[1]; oldRcvd[1] = oldD[0];
    oldAckSent[0] = oldD[1]; oldAckSent[1] = oldD[0];
    minNewRcvd[0] = 255; minNewRcvd[1] = 255;
    run Side(0); run Side(1);
#ifdef STATE_TRANSFER
    run NewInstance();
#endif
    i = 1;
    do
    :: i <= NMID -> run Hop(i); i++
    :: else -> break
    od
  }
}

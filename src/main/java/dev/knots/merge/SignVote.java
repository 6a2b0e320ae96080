package dev.knots.merge;

import java.io.Serializable;

/**
 * What a merge pass learned about the global majority sign (TIES, global scope): the sum of the
 * elected signs, and whether any entry needed the majority, that is, its pruned sum cancelled
 * exactly while some task still kept a non-zero value there. The majority only changes the merge at
 * such entries, so a pass run without it stands unless one occurred.
 */
public record SignVote(long signSum, boolean needsMajority) implements Serializable {

  /** The vote of a pass that elects no signs. */
  public static final SignVote NONE = new SignVote(0, false);

  public SignVote plus(SignVote other) {
    return new SignVote(signSum + other.signSum, needsMajority || other.needsMajority);
  }
}

package dev.knots.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.io.FileFormatException;
import org.junit.jupiter.api.Test;

class DTypeTest {

  @Test
  void sizesAndKinds() throws FileFormatException {
    assertEquals(8, DType.parse("F64", "t", "f").byteSize());
    assertEquals(2, DType.parse("BF16", "t", "f").byteSize());
    assertEquals(1, DType.parse("BOOL", "t", "f").byteSize());
    assertEquals(4, DType.parse("U32", "t", "f").byteSize());
    assertTrue(DType.F16.isFloat() && DType.F16.isWritable());
    assertTrue(DType.F8_E4M3.isFloat());
    assertFalse(DType.F8_E4M3.isWritable());
    assertFalse(DType.I64.isFloat());
    assertFalse(DType.U8.isWritable());
  }

  @Test
  void unknownDtypeNamesTensorAndFile() {
    FileFormatException e =
        assertThrows(
            FileFormatException.class,
            () -> DType.parse("f32", "w.weight", "/m/model.safetensors"));
    assertTrue(
        e.getMessage()
            .startsWith(
                "Cannot read tensor 'w.weight' of /m/model.safetensors: unknown dtype \"f32\"."),
        e.getMessage());
  }
}
